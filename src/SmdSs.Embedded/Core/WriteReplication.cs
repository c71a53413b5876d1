using System.Collections.Immutable;
using SmdSs.Model;

namespace SmdSs.Core;

/// <summary>
/// What the replicas of a primary's write answered, tallied: who holds it, which in-sync
/// replicas failed (they leave the in-sync set once their leases ran out), which catch-ups it
/// broke (a catching-up replica that missed it must not join the in-sync set on the strength of
/// that catch-up), and which listed replicas lack it (hinted handoff).
/// </summary>
internal sealed record ReplicationTally(
    IReadOnlySet<NodeId> Holders,
    IReadOnlyList<NodeId> FailedInSync,
    IReadOnlyList<NodeId> BrokenCatchUps,
    IReadOnlyList<NodeId> Missed);

/// <summary>How a replica answered a replicated write.</summary>
internal enum ReplicaReply
{
    /// <summary>It holds the records (durably, per its FsyncPolicy).</summary>
    Holds,

    /// <summary>It refused them: it knows a newer record of the slice, so the sender was deposed; not a failure of the replica.</summary>
    Deposed,

    /// <summary>No answer in time, a broken connection, or any other refusal.</summary>
    Failed,
}

/// <summary>
/// The write path's decisions at the primary, over plain data: where a write goes, what its
/// replicas' answers mean, and whether it may be acknowledged. The host sends, waits and drops;
/// these decide.
/// </summary>
internal static class WriteReplication
{
    /// <summary>
    /// True when a write needs no replica: this node is the only one in the slice's record both
    /// when the write began (<paramref name="begun"/>) and after it was applied here (<paramref name="current"/>).
    /// </summary>
    public static bool IsAlone(PieSlice begun, PieSlice current, NodeId self) =>
        current.Replicas.Length == 1 && begun.Replicas.Length == 1 && current.Primary == self;

    /// <summary>The record the write began on's replicas and the <paramref name="required"/> ones, without a copy when none is required.</summary>
    public static IReadOnlyCollection<NodeId> AlsoTo(PieSlice begun, ImmutableArray<NodeId> required) =>
        required.IsEmpty ? begun.Replicas : [.. begun.Replicas.Union(required)];

    /// <summary>
    /// Null when a write may begin; else why it may not yet: a replica it would have to reach (see
    /// <see cref="SliceAuthority.WriteRequires"/>) is out of reach. Refused before it is applied
    /// here, rather than applied, shown to readers and then refused; the sender retries once a
    /// majority holds the record that took the replica out.
    /// </summary>
    public static string? RefusalBeforeApply(PieSlice slice, ImmutableArray<NodeId> required, bool blocked, Func<NodeId, bool> isReachable, bool handingOver = false)
    {
        if (blocked)
        {
            return NotYetConfirmed(slice);
        }

        if (handingOver)
        {
            // See SliceAuthority.IsHandingOver: the next primary must hold every write this one made.
            return $"Slice {slice.Range} is being handed to another primary; retry there shortly.";
        }

        foreach (NodeId node in required)
        {
            if (!isReachable(node))
            {
                return $"Slice {slice.Range} took {node}, out of reach, out of its in-sync replicas in a record a majority may not hold yet; retry shortly.";
            }
        }

        return null;
    }

    /// <summary>
    /// The replicas to send a write to: every replica of the record read after the local apply
    /// (a replica added meanwhile gets the write either from here or from its catch-up, never from
    /// neither) and of <paramref name="alsoTo"/> (the record it began on), that this node can reach.
    /// </summary>
    public static List<NodeId> Targets(PieSlice current, IEnumerable<NodeId> alsoTo, NodeId self, Func<NodeId, bool> isReachable) =>
        [.. current.Replicas.Union(alsoTo).Where(n => n != self && isReachable(n))];

    /// <summary>Tallies the answers (<paramref name="replies"/>, one per target).</summary>
    public static ReplicationTally Tally(
        PieSlice current, IEnumerable<NodeId> alsoTo, NodeId self, IReadOnlyList<NodeId> targets, IReadOnlyList<ReplicaReply> replies, Func<NodeId, bool> isReachable)
    {
        if (replies.Count != targets.Count)
        {
            throw new ArgumentException($"{replies.Count} replies for {targets.Count} targets", nameof(replies));
        }

        HashSet<NodeId> holders = [self, .. targets.Where((_, i) => replies[i] == ReplicaReply.Holds)];
        var failedInSync = new List<NodeId>();
        // A catching-up replica this write did not reach (out of reach) or that did not take it.
        var broken = current.Replicas.Where(n => n != self && !current.IsInSync(n) && !targets.Contains(n)).ToList();
        for (int i = 0; i < targets.Count; i++)
        {
            NodeId target = targets[i];
            if (replies[i] == ReplicaReply.Holds)
            {
                continue;
            }

            if (!current.IsInSync(target))
            {
                broken.Add(target);
            }
            else if (replies[i] == ReplicaReply.Failed)
            {
                failedInSync.Add(target);
            }
        }

        failedInSync.AddRange(current.InSync.Where(n => n != self && !isReachable(n)));
        List<NodeId> missed = [.. current.Replicas.Union(alsoTo).Where(n => n != self && !holders.Contains(n))];
        return new ReplicationTally(holders, failedInSync, broken, missed);
    }

    /// <summary>
    /// The record that drops <paramref name="failed"/> from the in-sync set of <paramref name="current"/>;
    /// null when there is nothing to drop (this node does not lead it, or none of them is in sync).
    /// </summary>
    public static PieSlice? Dropping(PieSlice current, IReadOnlyCollection<NodeId> failed, NodeId self) =>
        current.Primary != self || !failed.Any(current.IsInSync) ? null
            : current.Next(current.Replicas, current.InSync.Where(n => !failed.Contains(n)));

    /// <summary>
    /// Null when the write of <paramref name="key"/> may be acknowledged, else why not (the
    /// sender retries at the key's primary). It may once the write quorum holds it (in a farm
    /// of two voters or fewer, <paramref name="inSyncNow"/> replicas: the majority rule has
    /// nothing to protect there) and every in-sync replica of the latest record of the key's
    /// slice (<paramref name="latest"/>; after a split, its half) holds it, with this node still
    /// its primary: the record may have changed while the write travelled. Also every node in
    /// <paramref name="required"/> (see <see cref="SliceAuthority.WriteRequires"/>) must hold it:
    /// replicas this node took out of the in-sync set by a record no majority is known to hold;
    /// and none may be acknowledged while the slice is <paramref name="blocked"/> (<see cref="SliceAuthority.IsWriteBlocked"/>).
    /// </summary>
    public static string? Refusal(
        string key, IReadOnlySet<NodeId> holders, PieSlice current, int writeQuorum, bool hasMajorityToKeep, int inSyncNow, PieSlice latest, ImmutableArray<NodeId> required, bool blocked, NodeId self)
    {
        int quorum = Math.Min(writeQuorum, current.Replicas.Length);
        if (holders.Count < quorum && !hasMajorityToKeep)
        {
            quorum = Math.Max(1, inSyncNow);
        }

        if (holders.Count < quorum)
        {
            return $"The write of '{key}' reached {holders.Count} of the {quorum} replicas SmdSs:WriteQuorum requires.";
        }

        if (latest.Primary != self || latest.InSync.Any(n => !holders.Contains(n)))
        {
            return $"Slice {latest.Range} changed during the write of '{key}'; retry at its primary.";
        }

        if (blocked)
        {
            return NotYetConfirmed(latest);
        }

        foreach (NodeId node in required)
        {
            if (!holders.Contains(node))
            {
                return $"The write of '{key}' did not reach {node}, which slice {latest.Range} took out of its in-sync replicas in a record a majority may not hold yet.";
            }
        }

        return null;
    }

    private static string NotYetConfirmed(PieSlice slice) =>
        $"This node just came to lead slice {slice.Range}; it takes writes once a majority is known to hold its record. Retry shortly.";
}
