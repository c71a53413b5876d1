using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs.Core;

/// <summary>
/// Whether this node is in touch with a majority of the voters (<see cref="Quorum"/>), for the
/// two decisions that need it.
/// <para>
/// A primary answers reads from its own copy, and grants leases, only while it heard from a
/// majority within the last second (<see cref="ReadQuorumUntilMs"/>). Once that lapsed for
/// longer than a hiccup, the node may have been replaced meanwhile (its slices taken over, which
/// takes the others a failure-detection timeout of its silence), and hearing a majority again
/// comes a message or two before the records that say so: the quorum returns only once maps were
/// exchanged, since the lapse, with peers that with this node make a majority (one peer could be
/// as stale as this node: the other side of a split).
/// </para>
/// <para>
/// A node takes over the slices of a silent primary only while its direct pings of that primary
/// keep failing, in a run that began after it last heard from it, and once it exchanged maps,
/// since the run began, with peers that with it make a majority (<see cref="MayTakeOverFrom"/>):
/// a record binds writes only once a majority holds it (<see cref="SliceAuthority.WriteRequires"/>),
/// so one of those peers has any record the primary confirmed before it became unreachable.
/// </para>
/// Single-threaded and pure: the host calls it under one lock and passes its monotonic
/// milliseconds and the voters in; the failure detector it reads is the node's.
/// </summary>
internal sealed class MajorityContact(NodeId self, FailureDetector detector, long pingTimeoutMs)
{
    /// <summary>A primary reads locally only while it heard a majority within this window. Far below the failure-detection timeout: the other side takes over only after declaring it Down.</summary>
    public const long ReadWindowMs = 1_000;

    /// <summary>How long a refresh that heard a majority lets the primary read locally; the host refreshes every 500 ms.</summary>
    public const long ReadValidMs = 750;

    /// <summary>The pause between direct pings of a silent primary this node would take over from.</summary>
    public const long TakeoverPingIntervalMs = 500;

    private readonly HashSet<NodeId> _resyncedWith = [];
    // When maps were last exchanged with each peer (at least as new as the peer's maps then).
    private readonly Dictionary<NodeId, long> _exchangedAtMs = [];
    // Per silent primary: the first and the last failure of an unbroken run of direct pings.
    private readonly Dictionary<NodeId, (long First, long Last)> _failedPings = [];

    /// <summary>Until when (monotonic ms) this node, as a primary, may read from its own copy; 0 at start.</summary>
    public long ReadQuorumUntilMs { get; private set; }

    /// <summary>The read quorum lapsed and has not yet come back through exchanges with a majority.</summary>
    public bool ResyncNeeded { get; private set; }

    /// <summary>The voters: every serving node and every node a slice lists as a replica, each once.</summary>
    public static List<NodeId> Voters(NodeMap nodes, SliceMap map) =>
        [.. nodes.Nodes.Where(n => n.IsServing).Select(n => n.Id).Concat(map.Slices.SelectMany(s => s.Replicas)).Distinct()];

    /// <summary>False in a farm of two voters or fewer, where no majority exists (see <see cref="Quorum"/>).</summary>
    public static bool HasMajorityToKeep(NodeId self, IEnumerable<NodeId> voters) => voters.Append(self).Distinct().Skip(2).Any();

    /// <summary>Checks contact with a majority; the host calls it every failure-detection tick.</summary>
    public void Refresh(IReadOnlyCollection<NodeId> voters, long nowMs)
    {
        if (!HasMajorityToKeep(self, voters))
        {
            // Two voters or fewer: there is no majority to lose.
            ResyncNeeded = false;
        }
        else if (!ResyncNeeded && ReadQuorumUntilMs != 0 && nowMs >= ReadQuorumUntilMs + ReadWindowMs)
        {
            _resyncedWith.Clear();
            ResyncNeeded = true;
        }

        if (!ResyncNeeded && HearsMajority(voters, nowMs))
        {
            ReadQuorumUntilMs = nowMs + ReadValidMs;
        }
    }

    /// <summary>
    /// Maps were exchanged with <paramref name="peer"/> (either side of a digest exchange; a delta
    /// pushed alone does not count: it is not the whole of the peer's maps), the peer's maps at
    /// least as new as <paramref name="sinceMs"/>: a lapsed read quorum may return, a takeover may start.
    /// </summary>
    public void Exchanged(NodeId peer, long sinceMs, IReadOnlyCollection<NodeId> voters, long nowMs)
    {
        _exchangedAtMs[peer] = Math.Max(_exchangedAtMs.GetValueOrDefault(peer, long.MinValue), sinceMs);
        if (!ResyncNeeded)
        {
            return;
        }

        _resyncedWith.Add(peer);
        if (Quorum.Holds(self, voters, _resyncedWith.Contains) && HearsMajority(voters, nowMs))
        {
            ResyncNeeded = false;
            ReadQuorumUntilMs = nowMs + ReadValidMs;
        }
    }

    /// <summary>Heard from a majority of <paramref name="voters"/> within the read window.</summary>
    public bool HearsMajority(IReadOnlyCollection<NodeId> voters, long nowMs) =>
        Quorum.Holds(self, voters, n => detector.HeardSince(n, nowMs - ReadWindowMs));

    /// <summary>Hears a majority but has not yet exchanged maps with one since its read quorum lapsed.</summary>
    public bool IsResyncing(IReadOnlyCollection<NodeId> voters, long nowMs) => ResyncNeeded && HearsMajority(voters, nowMs);

    /// <summary>A direct ping of the silent <paramref name="primary"/> failed.</summary>
    public void PingFailed(NodeId primary, long nowMs)
    {
        long silentSince = detector.LastHeardMs(primary) ?? long.MinValue;
        _failedPings[primary] = _failedPings.TryGetValue(primary, out var run) && run.First > silentSince ? (run.First, nowMs) : (nowMs, nowMs);
    }

    /// <summary>The pings of <paramref name="primary"/> ended: it answered, or it is no longer one to take over from.</summary>
    public void PingsEnded(NodeId primary) => _failedPings.Remove(primary);

    /// <summary>When the run of failed pings of <paramref name="primary"/> began; null while none failed.</summary>
    public long? PingsFailingSince(NodeId primary) => _failedPings.TryGetValue(primary, out var run) ? run.First : null;

    /// <summary>Maps were exchanged with <paramref name="peer"/> after <paramref name="sinceMs"/>.</summary>
    public bool ExchangedAfter(NodeId peer, long sinceMs) => _exchangedAtMs.TryGetValue(peer, out long at) && at > sinceMs;

    /// <summary>
    /// May this node take over the slices of <paramref name="primary"/>? Not if it heard from it
    /// since <paramref name="heardSinceMs"/>; only while its direct pings of it keep failing (the
    /// last within a ping's timeout and two ping intervals), in a run that began after this node
    /// last heard from it; and once it exchanged maps, since the run began, with peers that with
    /// it make a majority. A primary this node cannot reach that still reaches a majority (a
    /// one-way or partial partition), or a partition that heals within the last ping's time, can
    /// still confirm records the takeover misses; see the known gaps.
    /// </summary>
    public bool MayTakeOverFrom(NodeId primary, IReadOnlyCollection<NodeId> voters, long heardSinceMs, long nowMs)
    {
        if (detector.HeardSince(primary, heardSinceMs) || !_failedPings.TryGetValue(primary, out var pings))
        {
            return false;
        }

        long silentSince = detector.LastHeardMs(primary) ?? long.MinValue;
        return pings.First > silentSince && pings.Last >= nowMs - (pingTimeoutMs + (2 * TakeoverPingIntervalMs))
            && Quorum.Holds(self, voters, n => n != primary && ExchangedAfter(n, pings.First));
    }

    /// <summary>A node was forgotten: nothing about it is kept.</summary>
    public void Forget(NodeId node)
    {
        _exchangedAtMs.Remove(node);
        _failedPings.Remove(node);
        _resyncedWith.Remove(node);
    }
}
