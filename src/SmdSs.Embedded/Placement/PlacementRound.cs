using SmdSs.Model;

namespace SmdSs.Placement;

/// <summary>A record change a primary decided: the record it read, the one to commit, and why.</summary>
internal sealed record SliceChange(PieSlice BasedOn, PieSlice Next, string Reason);

/// <summary>
/// One placement round of one node, as decisions over its own view of the maps. First the
/// repairs (take over slices whose primary is gone; drop from the in-sync set replicas that
/// cannot be reached); once those are committed, one step of every slice this node leads toward
/// the target every node computes alike. Pure: the host commits what it returns (waiting out
/// leases, refusing a change whose base moved meanwhile) and runs the next round after.
/// </summary>
internal static class PlacementRound
{
    /// <param name="map">This node's slice map.</param>
    /// <param name="self">This node.</param>
    /// <param name="isServing">Whether the node map says a node serves.</param>
    /// <param name="isReachable">Whether the node map says a node can be reached.</param>
    /// <param name="mayTakeOverFrom">
    /// Whether this node may take over from a primary the node map holds down. Not if it heard
    /// from it within the failure-detection timeout, whatever the node map says: after a partition
    /// heals, maps still hold the other side Down for a while, and the primary there already
    /// serves reads again; a takeover then would leave it reading a slice whose writes go
    /// elsewhere. Nor before it exchanged maps, since it last heard from it, with peers that with
    /// it make a majority: the primary's last records that bind writes are held by a majority,
    /// and the takeover must start from them, not from an older record this node kept.
    /// </param>
    /// <param name="toRestamp">
    /// Slices this node leads that a merge cut keeping the whole's record (<see cref="Core.SliceAuthority.ToRestamp"/>):
    /// each is committed anew at the next epoch, unless another repair changes it anyway.
    /// </param>
    public static List<SliceChange> Repairs(SliceMap map, NodeId self, Func<NodeId, bool> isServing, Func<NodeId, bool> isReachable, Func<NodeId, bool> mayTakeOverFrom, IReadOnlyCollection<PieSlice>? toRestamp = null)
    {
        var changes = new List<SliceChange>();
        var restamp = (toRestamp ?? []).Select(s => s.Range.Start).ToHashSet();
        foreach (PieSlice slice in map.Slices)
        {
            if (slice.Primary is { } primary && mayTakeOverFrom(primary) && SliceMoves.TakeOver(slice, self, isServing) is { } takeover)
            {
                changes.Add(new SliceChange(slice, takeover, "primary down, took over"));
            }
            else if (slice.Primary == self && slice.InSync.Any(n => n != self && !isReachable(n)))
            {
                changes.Add(new SliceChange(slice, slice.Next(slice.Replicas, slice.InSync.Where(isReachable)), "replica unreachable, dropped from in-sync"));
            }
            else if (slice.Primary == self && restamp.Contains(slice.Range.Start))
            {
                changes.Add(new SliceChange(slice, slice.Next(slice.Replicas, slice.InSync), "cut by a split learned late, stamped anew"));
            }
        }

        return changes;
    }

    /// <param name="map">This node's slice map, after the repairs.</param>
    /// <param name="nodes">This node's node map.</param>
    /// <param name="self">This node.</param>
    /// <param name="wallNowMs">The wall clock (Unix ms), to tell how long a node has been down.</param>
    /// <param name="gracePeriod">How long a node that went down keeps its replicas.</param>
    /// <param name="replicationFactor">The wanted replicas per slice.</param>
    public static List<SliceChange> Steps(SliceMap map, NodeMap nodes, NodeId self, long wallNowMs, TimeSpan gracePeriod, int replicationFactor)
    {
        var eligible = nodes.Nodes.Where(n => n.State is NodeState.Up or NodeState.Joining).Select(n => n.Id).ToList();
        var keepable = nodes.Nodes.Where(n => IsKeepable(n, wallNowMs, gracePeriod)).Select(n => n.Id).ToHashSet();
        var targets = PlacementPlanner.Plan(map, eligible, keepable, replicationFactor);
        var changes = new List<SliceChange>();
        for (int i = 0; i < map.Count; i++)
        {
            if (SliceMoves.NextStep(map.Slices[i], targets[i], self) is { } step)
            {
                changes.Add(new SliceChange(map.Slices[i], step, "placement"));
            }
        }

        return changes;
    }

    /// <summary>
    /// A node keeps its replicas while it serves, and while it is down within the grace period
    /// (in a web farm a stop is usually a restart); a leaving node keeps nothing. The grace counts
    /// from the time gone its record carries (every Down record has one), the same on every node:
    /// counted from when a node heard the news, a node that just joined would plan with
    /// capacities nobody else uses, and the primaries' moves would undo each other's.
    /// </summary>
    public static bool IsKeepable(NodeRecord node, long wallNowMs, TimeSpan gracePeriod) =>
        node.State is NodeState.Up or NodeState.Joining or NodeState.Suspect
        || (node.State == NodeState.Down && node.GoneSinceMs != 0 && wallNowMs - node.GoneSinceMs < gracePeriod.TotalMilliseconds);
}
