namespace SmdSs.Membership;

/// <summary>
/// One node as the node map knows it. Ordered for merging by (incarnation, state, heartbeat):
/// a node bumps its heartbeat to publish a new load, its incarnation to refute a suspicion or
/// after a restart; other nodes may only raise its state (Suspect, Down) at the incarnation they saw.
/// </summary>
internal sealed record NodeRecord(NodeId Id, string Endpoint, NodeState State, long Incarnation, long Heartbeat, long Load)
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

        return Heartbeat > other.Heartbeat;
    }

    /// <summary>Serves requests and can hold replicas.</summary>
    public bool IsServing => State is NodeState.Up or NodeState.Joining or NodeState.Suspect or NodeState.Leaving;

    /// <summary>Reachable enough to send it replication traffic.</summary>
    public bool IsReachable => State is NodeState.Up or NodeState.Joining or NodeState.Suspect or NodeState.Leaving;
}
