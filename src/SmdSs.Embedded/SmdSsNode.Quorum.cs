using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs;

/// <summary>Split-brain protection: see <see cref="Quorum"/>.</summary>
public sealed partial class SmdSsNode
{
    // A primary answers reads from its copy only while it heard a majority within this window.
    // Far below FailureDetectionTimeout: the other side takes over only after declaring it Down.
    private const long ReadQuorumWindowMs = 1_000;

    // Recomputed by the failure detector's tick (every 500 ms): the read path only compares a time.
    private const long ReadQuorumValidMs = 750;
    private long _readQuorumUntilMs;

    private IEnumerable<NodeId> Voters() =>
        Nodes.Nodes.Where(n => n.IsServing).Select(n => n.Id).Concat(SliceMap!.Slices.SelectMany(s => s.Replicas));

    /// <summary>False in a farm of two voters or fewer, where no majority exists (see <see cref="Quorum"/>).</summary>
    private bool HasMajorityToKeep() => Voters().Append(SelfRecord!.Id).Distinct().Skip(2).Any();

    /// <summary>May this node commit slice records? Suspect nodes do not count as in contact.</summary>
    private bool HasCommitQuorum() =>
        Quorum.Holds(SelfRecord!.Id, Voters(), n => Nodes.Find(n)?.State is NodeState.Up or NodeState.Joining or NodeState.Leaving);

    /// <summary>
    /// May this node, as a primary, answer reads from its own copy (and grant leases)? Always
    /// when no other node is a voter (a farm of one): there is nobody to hear from, and a pause of
    /// the process longer than the refresh window must not send its reads around in circles.
    /// </summary>
    private bool HasReadQuorum() => _soleVoter || MonoMs() < Volatile.Read(ref _readQuorumUntilMs);

    // Recounted with every change of the maps and every refresh.
    private volatile bool _soleVoter;

    private void RecountVoters()
    {
        NodeId self = SelfRecord!.Id;
        _soleVoter = Voters().All(v => v == self);
    }

    // Set when the read quorum lapsed for longer than a hiccup: the node may have been replaced
    // meanwhile (its slices taken over, which takes the others a failure-detection timeout of its
    // silence), and hearing a majority again comes a message or two before the records that say
    // so. The quorum returns once maps were exchanged, since the lapse, with peers that with this
    // node make a majority (one peer could be as stale as this node: the other side of a split).
    private volatile bool _resyncNeeded;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<NodeId, byte> _resyncedWith = new();

    /// <summary>Checks contact with a majority; the failure detector calls it every tick.</summary>
    private void RefreshReadQuorum()
    {
        lock (_stateLock)
        {
            RecountVoters();
        }

        long now = MonoMs();
        long until = Volatile.Read(ref _readQuorumUntilMs);
        if (!HasMajorityToKeep())
        {
            // Two voters or fewer: there is no majority to lose (see Quorum).
            _resyncNeeded = false;
        }
        else if (!_resyncNeeded && until != 0 && now >= until + ReadQuorumWindowMs)
        {
            // Set only on the way from false (a clear by Resynced meanwhile is not undone).
            _resyncedWith.Clear();
            _resyncNeeded = true;
        }

        if (!_resyncNeeded && HearsMajority(now))
        {
            Volatile.Write(ref _readQuorumUntilMs, now + ReadQuorumValidMs);
        }
    }

    private bool HearsMajority(long now) =>
        Quorum.Holds(SelfRecord!.Id, Voters(), n => _detector!.HeardSince(n, now - ReadQuorumWindowMs));

    // When maps were last exchanged with each peer (MonoMs, at least as new as the peer's maps in
    // the exchange): a takeover waits for exchanges with a majority (see MayTakeOverFrom).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<NodeId, long> _exchangedAtMs = new();

    /// <summary>
    /// Maps were exchanged with <paramref name="peer"/> (either side of a digest exchange), its
    /// maps at least as new as <paramref name="sinceMs"/>: a lapsed read quorum may return, a takeover may start.
    /// </summary>
    private void Resynced(NodeId? peer, long sinceMs)
    {
        if (peer is { } exchanged)
        {
            _exchangedAtMs.AddOrUpdate(exchanged, sinceMs, (_, earlier) => Math.Max(earlier, sinceMs));
        }

        if (!_resyncNeeded || peer is not { } id)
        {
            return;
        }

        _resyncedWith[id] = 0;
        long now = MonoMs();
        if (Quorum.Holds(SelfRecord!.Id, Voters(), _resyncedWith.ContainsKey) && HearsMajority(now))
        {
            _resyncNeeded = false;
            Volatile.Write(ref _readQuorumUntilMs, now + ReadQuorumValidMs);
        }
    }

    /// <summary>Hears a majority but has not yet exchanged maps with one since its read quorum lapsed.</summary>
    private bool IsResyncing() => _resyncNeeded && HearsMajority(MonoMs());
}
