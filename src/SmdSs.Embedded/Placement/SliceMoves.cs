using SmdSs.Model;

namespace SmdSs.Placement;

/// <summary>
/// The next step a primary takes to move its slice toward its target, one step at a time:
/// a primary the target drops first hands the primary role to the target primary if it is in
/// sync; then the missing replicas are added (they catch up before joining the in-sync set);
/// then the primary role goes to the target primary; then the replicas the target no longer
/// wants are dropped. Pure; the host commits
/// the returned record and does the data movement.
/// </summary>
/// <remarks>
/// Every step lists the replicas in the order that says where the move goes: the primary, the
/// replicas that stay, the ones coming, the ones leaving. The planner keeps a slice's first RF
/// in-sync replicas in list order, so while a slice holds one replica too many (the new one
/// caught up, the old one waiting out its lease before it leaves) every node already plans
/// with the set the move ends at. Planning with the set it started from, other primaries moved
/// their slices on a count that changed under them when the drop went in, and three slices of a
/// four-node cluster passed a replica round and round for good (the churn CI saw).
/// </remarks>
internal static class SliceMoves
{
    public static PieSlice? NextStep(PieSlice slice, PlacementTarget target, NodeId self)
    {
        if (slice.Primary != self)
        {
            return null;
        }

        // A primary the target drops hands over first, so that it is not the one listed ahead of
        // the others while they catch up; one that stays waits for the target's replicas to be in
        // sync (handing over would break the catch-ups it runs).
        if (target.Primary != self && slice.IsInSync(target.Primary) && (!target.Replicas.Contains(self) || target.Replicas.All(slice.IsInSync)))
        {
            return slice.Next(InMoveOrder(target.Primary, slice.Replicas, target), slice.InSync);
        }

        List<NodeId> missing = [.. target.Replicas.Where(n => !slice.IsHeldBy(n))];
        if (missing.Count > 0)
        {
            return slice.Next(InMoveOrder(self, [.. slice.Replicas, .. missing], target), slice.InSync);
        }

        bool targetInSync = target.Replicas.All(slice.IsInSync);
        List<NodeId> extra = [.. slice.Replicas.Where(n => !target.Replicas.Contains(n) && n != self)];
        if (extra.Count > 0 && targetInSync)
        {
            return slice.Next(slice.Replicas.Where(n => !extra.Contains(n)), slice.InSync.Where(n => !extra.Contains(n)));
        }

        return null;
    }

    // The primary; the replicas held that the target keeps, in their order; the ones the target
    // adds; then the ones leaving.
    private static IEnumerable<NodeId> InMoveOrder(NodeId primary, IEnumerable<NodeId> replicas, PlacementTarget target)
    {
        List<NodeId> others = [.. replicas.Where(n => n != primary).Distinct()];
        return [primary, .. others.Where(target.Replicas.Contains), .. others.Where(n => !target.Replicas.Contains(n))];
    }

    /// <summary>
    /// The primary gives its slice away (it stops, or its files may have lost writes): to the
    /// first in-sync replica still serving, itself listed last and out of the in-sync set, so
    /// that the new primary catches it up if it comes back. Null when no one can take it.
    /// </summary>
    public static PieSlice? HandOver(PieSlice slice, NodeId self, Func<NodeId, bool> isServing)
    {
        if (slice.Primary != self || slice.InSync.Where(n => n != self && isServing(n)).Select(n => (NodeId?)n).FirstOrDefault() is not { } successor)
        {
            return null;
        }

        return slice.Next([successor, .. slice.Replicas.Where(n => n != successor && n != self), self], slice.InSync.Where(n => n != self));
    }

    /// <summary>
    /// Failover: when the primary is gone, the first in-sync replica (in list order) that is
    /// still serving takes over, deterministically, keeping the old primary listed (not in sync)
    /// so that it can catch up if it returns within the grace period.
    /// </summary>
    public static PieSlice? TakeOver(PieSlice slice, NodeId self, Func<NodeId, bool> isServing)
    {
        if (slice.Primary is not { } primary || primary == self || isServing(primary))
        {
            return null;
        }

        NodeId? successor = slice.Replicas.Where(n => n != primary && slice.IsInSync(n) && isServing(n)).Select(n => (NodeId?)n).FirstOrDefault();
        if (successor != self)
        {
            return null;
        }

        PieSlice next = slice.Next([self, .. slice.Replicas.Where(n => n != self && n != primary), primary], slice.InSync.Where(n => n != primary));
        return next with { Epoch = slice.Epoch + TakeoverEpochStep };
    }

    /// <summary>
    /// A takeover skips epochs: the lost primary may have committed a few records just before it
    /// was cut off (one every placement round, until it noticed it lost its majority) that never
    /// reached anyone. Equal epochs would be decided by node id, and the cut-off node's record
    /// could win; a takeover must win.
    /// </summary>
    public const long TakeoverEpochStep = 1024;
}
