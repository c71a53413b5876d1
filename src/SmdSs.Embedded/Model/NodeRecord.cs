namespace SmdSs.Model;

/// <summary>
/// One node as the node map knows it. Ordered for merging by (incarnation, state, heartbeat):
/// a node bumps its heartbeat to publish a new load, its incarnation to refute a suspicion or
/// after a restart; other nodes may only raise its state (Suspect, Down) at the incarnation they saw.
/// <c>GoneSinceMs</c> is the wall-clock time (Unix ms) at which the node went Down or Left (0
/// while it serves), stamped by whoever first saw it go; the map forgets the node a retention
/// after it (<c>Membership.NodeRetention</c>). Of two otherwise equal records the earlier time wins,
/// so every map converges on one.
/// </summary>
internal sealed record NodeRecord(NodeId Id, string Endpoint, NodeState State, long Incarnation, long Heartbeat, long Load, long GoneSinceMs = 0)
{
    /// <summary>True when this record is newer than <paramref name="other"/> (same node).</summary>
    public bool Supersedes(NodeRecord other)
    {
        if (Incarnation != other.Incarnation)
        {
            return Incarnation > other.Incarnation;
        }

        if (State != other.State)
        {
            return State > other.State;
        }

        if (Heartbeat != other.Heartbeat)
        {
            return Heartbeat > other.Heartbeat;
        }

        return GoneSinceMs != 0 && (other.GoneSinceMs == 0 || GoneSinceMs < other.GoneSinceMs);
    }

    /// <summary>This record in <paramref name="state"/>, stamped with the time it went if that state is gone (Down, Left).</summary>
    public NodeRecord InState(NodeState state, long wallNowMs) =>
        this with { State = state, GoneSinceMs = state is NodeState.Down or NodeState.Left ? (GoneSinceMs != 0 && State == state ? GoneSinceMs : wallNowMs) : 0 };

    /// <summary>Serves requests and can hold replicas.</summary>
    public bool IsServing => State is NodeState.Up or NodeState.Joining or NodeState.Suspect or NodeState.Leaving;

    /// <summary>Reachable enough to send it replication traffic.</summary>
    public bool IsReachable => State is NodeState.Up or NodeState.Joining or NodeState.Suspect or NodeState.Leaving;
}
