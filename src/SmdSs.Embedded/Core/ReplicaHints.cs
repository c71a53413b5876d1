using SmdSs.Model;

namespace SmdSs.Core;

/// <summary>
/// Hinted handoff's decisions over plain data: which hints a new slice record carries, and
/// whether a returning replica gets a delta catch-up (from which version) or a full one. The
/// primary's memory of the writes each replica missed (<c>Replication.MissedWrites</c>) comes in
/// as <c>missedSince</c>; clocks come in as versions and milliseconds.
/// </summary>
internal static class ReplicaHints
{
    /// <summary>
    /// <paramref name="next"/> with the hints it carries over <paramref name="current"/>: a replica
    /// that leaves the in-sync set but stays listed (a failed replica, a stopping one, a lost
    /// primary) misses every write from now on and the writes the write path saw it miss before;
    /// a replica already behind keeps its hint, lowered by any older write it missed since. A
    /// write still in flight may fail to reach it after this record is out, noted only in this
    /// node's memory, which a later primary does not see: so a new hint reaches back to
    /// <paramref name="inFlightSince"/>, the first version of a write that may still be in flight.
    /// </summary>
    public static PieSlice For(PieSlice current, PieSlice next, Func<NodeId, long?> missedSince, long inFlightSince)
    {
        var hints = new List<ReplicaHint>();
        foreach (NodeId replica in current.InSync.Where(n => next.IsHeldBy(n) && !next.IsInSync(n)))
        {
            hints.Add(new ReplicaHint(replica, Math.Min(missedSince(replica) ?? long.MaxValue, inFlightSince)));
        }

        foreach (NodeId replica in next.Replicas.Where(n => current.HintFor(n) is not null))
        {
            if (missedSince(replica) is { } since)
            {
                hints.Add(new ReplicaHint(replica, since));
            }
        }

        return next.WithHints(hints);
    }

    /// <summary>
    /// The version a delta catch-up of <paramref name="replica"/> starts from, or null for a full
    /// one: it has no hint in <paramref name="slice"/>'s record, or one so old that tombstones of
    /// deletes it missed may be purged before the delta is done (older than <paramref name="oldestSafeMs"/>).
    /// </summary>
    public static long? DeltaBase(PieSlice slice, NodeId replica, long? missedSince, long oldestSafeMs)
    {
        long? since = slice.HintFor(replica) is { } hint ? Math.Min(hint, missedSince ?? long.MaxValue) : null;
        return since is { } version && HybridTimestamp.PhysicalMsOf(version) > oldestSafeMs ? version : null;
    }
}
