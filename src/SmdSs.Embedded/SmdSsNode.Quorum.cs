using SmdSs.Core;
using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs;

/// <summary>Split-brain protection: see <see cref="Quorum"/>; the decisions are <see cref="MajorityContact"/>'s.</summary>
public sealed partial class SmdSsNode
{
    // Guards _contact; taken after _stateLock when both are (never the other way round).
    private readonly Lock _contactLock = new();
    private MajorityContact? _contact;

    // Published from _contact after each change: the read path only compares a time.
    private long _readQuorumUntilMs;

    private sealed record VoterSnapshot(NodeMap Nodes, SliceMap Map, List<NodeId> Voters, bool MajorityToKeep);

    // Computed once per pair of map snapshots: a write asks per request.
    private volatile VoterSnapshot? _voters;

    private List<NodeId> Voters()
    {
        NodeMap nodes = Nodes;
        SliceMap map = SliceMap!;
        VoterSnapshot? voters = _voters;
        if (voters is null || !ReferenceEquals(voters.Nodes, nodes) || !ReferenceEquals(voters.Map, map))
        {
            List<NodeId> all = MajorityContact.Voters(nodes, map);
            voters = new VoterSnapshot(nodes, map, all, MajorityContact.HasMajorityToKeep(SelfRecord!.Id, all));
            _voters = voters;
        }

        return voters.Voters;
    }

    /// <summary>False in a farm of two voters or fewer, where no majority exists (see <see cref="Quorum"/>).</summary>
    private bool HasMajorityToKeep()
    {
        Voters();
        return _voters!.MajorityToKeep;
    }

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

    /// <summary>This node starts (or restarts): nothing heard, no read quorum, no pings.</summary>
    private void ResetContact()
    {
        lock (_contactLock)
        {
            _contact = new MajorityContact(SelfRecord!.Id, _detector!, (long)ProbeTimeout.TotalMilliseconds);
            Volatile.Write(ref _readQuorumUntilMs, 0);
        }

        RecountVoters();
    }

    /// <summary>Checks contact with a majority; the failure detector calls it every tick.</summary>
    private void RefreshReadQuorum()
    {
        RecountVoters();
        List<NodeId> voters = Voters();
        lock (_contactLock)
        {
            _contact!.Refresh(voters, MonoMs());
            Volatile.Write(ref _readQuorumUntilMs, _contact.ReadQuorumUntilMs);
        }
    }

    /// <summary>
    /// Maps were exchanged with <paramref name="peer"/> (either side of a digest exchange), its
    /// maps at least as new as <paramref name="sinceMs"/>: a lapsed read quorum may return, a takeover may start.
    /// </summary>
    private void Resynced(NodeId? peer, long sinceMs)
    {
        if (peer is not { } exchanged)
        {
            return;
        }

        List<NodeId> voters = Voters();
        lock (_contactLock)
        {
            _contact!.Exchanged(exchanged, sinceMs, voters, MonoMs());
            Volatile.Write(ref _readQuorumUntilMs, _contact.ReadQuorumUntilMs);
        }
    }

    /// <summary>Hears a majority but has not yet exchanged maps with one since its read quorum lapsed.</summary>
    private bool IsResyncing()
    {
        List<NodeId> voters = Voters();
        lock (_contactLock)
        {
            return _contact!.IsResyncing(voters, MonoMs());
        }
    }
}
