using SmdSs.Model;

namespace SmdSs.Placement;

/// <summary>
/// The next step a primary takes to move its slice toward its target, one step at a time:
/// first add the missing replicas (they catch up before joining the in-sync set), then hand the
/// primary role to the target primary once it is in sync, then drop replicas the target no
/// longer wants. Pure; the host commits the returned record and does the data movement.
/// </summary>
internal static class SliceMoves
{
    public static PieSlice? NextStep(PieSlice slice, PlacementTarget target, NodeId self)
    {
        if (slice.Primary != self)
        {
            return null;
        }

        List<NodeId> missing = [.. target.Replicas.Where(n => !slice.IsHeldBy(n))];
        if (missing.Count > 0)
        {
            return slice.Next([.. slice.Replicas, .. missing], slice.InSync);
        }

        bool targetInSync = target.Replicas.All(slice.IsInSync);
        if (target.Primary != self && slice.IsInSync(target.Primary) && targetInSync)
        {
            return slice.Next([target.Primary, .. slice.Replicas.Where(n => n != target.Primary)], slice.InSync);
        }

        List<NodeId> extra = [.. slice.Replicas.Where(n => !target.Replicas.Contains(n) && n != self)];
        if (extra.Count > 0 && targetInSync)
        {
            return slice.Next(slice.Replicas.Where(n => !extra.Contains(n)), slice.InSync.Where(n => !extra.Contains(n)));
        }

        return null;
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
