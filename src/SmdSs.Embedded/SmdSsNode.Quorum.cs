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

    // Set when the read quorum lapsed: a node back in touch may have been replaced meanwhile
    // (its slices taken over), and hearing a majority again comes a message or two before the
    // records that say so; the quorum returns only once maps were exchanged with a peer.
    private volatile bool _resyncNeeded;

    /// <summary>Checks contact with a majority; the failure detector calls it every tick.</summary>
    private void RefreshReadQuorum()
    {
        RecountVoters();
        long now = MonoMs();
        if (!HearsMajority(now))
        {
            _resyncNeeded |= now >= Volatile.Read(ref _readQuorumUntilMs);
            return;
        }

        if (!_resyncNeeded)
        {
            Volatile.Write(ref _readQuorumUntilMs, now + ReadQuorumValidMs);
        }
    }

    private bool HearsMajority(long now) =>
        Quorum.Holds(SelfRecord!.Id, Voters(), n => _detector!.HeardSince(n, now - ReadQuorumWindowMs));

    /// <summary>Maps were exchanged with a peer (either side of a digest exchange): a lapsed read quorum may return.</summary>
    private void Resynced()
    {
        long now = MonoMs();
        if (_resyncNeeded && HearsMajority(now))
        {
            _resyncNeeded = false;
            Volatile.Write(ref _readQuorumUntilMs, now + ReadQuorumValidMs);
        }
    }
}
