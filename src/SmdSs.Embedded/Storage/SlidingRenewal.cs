namespace SmdSs.Storage;

/// <summary>
/// The sliding-expiration rule across replicas: <b>an entry whose window a read renewed, on any
/// node that answered the read, does not expire anywhere before that read's deadline.</b>
/// <list type="bullet">
/// <item>Only a slice's primary expires entries: it deletes them with a versioned Delete that
/// it replicates like any write. Replicas never drop an entry on their own clock.</item>
/// <item>A replica answers a read of a sliding entry from its copy only while the deadline the
/// primary is known to hold (<see cref="StoredEntry.PrimaryDeadlineMs"/>) is more than
/// <see cref="PropagationBoundMs"/> away: the touch this read causes reaches the primary
/// within that bound (batched once a second, sent with the replication timeout), so the
/// primary cannot expire the entry before it learns of the read. Otherwise the read goes to
/// the primary, which renews and answers with its own exact clock.</item>
/// <item>A primary ignores a touch of an entry that has already expired there: an entry that
/// read as gone never comes back.</item>
/// <item>A primary about to hand a slice to another node sends its pending touches first.</item>
/// <item>A copy that may lag renewals still on their way counts a sliding entry as expired only
/// once its deadline is <see cref="PropagationBoundMs"/> past: a replica cut off from the primary
/// and the majority (a degraded read), and a primary in its first <see cref="PropagationBoundMs"/>
/// as primary (its predecessor's last touches may still be travelling, or lost with it).</item>
/// </list>
/// A window no longer than the bound is therefore always renewed at the primary: exact time,
/// as in MemoryDistributedCache, for a network round trip on the other nodes.
/// </summary>
internal static class SlidingRenewal
{
    /// <summary>
    /// How long a replica's touch may take to reach the primary: the touch batch interval (1 s),
    /// the replication acknowledgement timeout (1.5 s), and slack for a busy machine. A touch
    /// delayed longer (an overloaded node, a partition) may arrive after the primary expired the
    /// entry, and is then ignored.
    /// </summary>
    public const long PropagationBoundMs = 3_000;

    /// <summary>May a replica answer a read of <paramref name="entry"/> from its copy at <paramref name="nowMs"/>?</summary>
    public static bool ReplicaMayAnswer(StoredEntry entry, long nowMs)
    {
        if (entry.SlidingMs == 0)
        {
            return true;
        }

        long primaryDeadline = entry.PrimaryDeadlineMs;
        // Capped by the absolute expiration: no read can move it any more, every node agrees.
        bool capped = entry.AbsoluteMs != 0 && primaryDeadline >= entry.AbsoluteMs;
        return capped || primaryDeadline - nowMs > PropagationBoundMs;
    }

    /// <summary>
    /// A read at <paramref name="nowMs"/> slides <paramref name="entry"/>'s window. True when the
    /// renewal must go out to the other replicas: the deadline moved, or, on a node that is not
    /// the primary (<paramref name="atPrimary"/>: its own deadline is the primary's), this copy's
    /// deadline was already past the new one but the primary is not known to hold the new one
    /// (another replica's touch, which may never reach the primary, moved it): this read's
    /// deadline is the one the primary must learn.
    /// </summary>
    public static bool Slide(StoredEntry entry, long nowMs, bool atPrimary)
    {
        if (entry.SlidingMs == 0 || entry.IsClaimedForExpiry)
        {
            return false;
        }

        long slid = entry.Expiry.SlideAt(nowMs);
        return entry.ExtendDeadline(slid) || (!atPrimary && slid > entry.PrimaryDeadlineMs);
    }

    /// <summary>
    /// A renewal another node sent (<paramref name="version"/> to <paramref name="deadlineMs"/>)
    /// lands on this node's <paramref name="entry"/>: refused (none held, another version, or, on
    /// the primary, <paramref name="refuseExpiredAtMs"/> not 0 and the entry expired by then: an
    /// entry that read as gone never comes back); else the deadline moves if later, and a renewal
    /// <paramref name="fromPrimary"/> is one the primary holds.
    /// </summary>
    public static TouchLanding Land(StoredEntry? entry, long version, long deadlineMs, bool fromPrimary, long refuseExpiredAtMs)
    {
        if (entry is null || entry.Version != version || (refuseExpiredAtMs != 0 && entry.IsExpiredAt(refuseExpiredAtMs)))
        {
            return TouchLanding.Refused;
        }

        bool moved = entry.ExtendDeadline(deadlineMs);
        if (fromPrimary)
        {
            entry.ConfirmDeadline(deadlineMs);
        }

        return moved ? TouchLanding.Moved : TouchLanding.Held;
    }

    /// <summary>
    /// After a renewal landed on the primary's <paramref name="entry"/>: does the primary hold that
    /// deadline now (its answer confirms it to the sender, which may then go on answering reads
    /// locally), or not (claimed for expiry, another version)?
    /// </summary>
    public static bool PrimaryHolds(StoredEntry entry, long version, long deadlineMs) =>
        entry.Version == version && !entry.IsClaimedForExpiry && entry.DeadlineMs >= deadlineMs;

    /// <summary>Expired, for a copy that may lag renewals made elsewhere (see the rule above).</summary>
    public static bool IsExpiredAllowingLag(StoredEntry entry, long nowMs) =>
        entry.IsExpiredForGoodAt(nowMs) || (entry.SlidingMs > 0 && entry.IsExpiredAt(nowMs - PropagationBoundMs));
}

/// <summary>How a renewal from another node landed (<see cref="SlidingRenewal.Land"/>).</summary>
internal enum TouchLanding
{
    /// <summary>Not taken: no such entry or version here, or expired here on the primary.</summary>
    Refused,

    /// <summary>Taken; the deadline here was already as late.</summary>
    Held,

    /// <summary>Taken; the deadline moved (to be persisted, and relayed by a primary).</summary>
    Moved,
}
