using SmdSs.Membership;

namespace SmdSs;

/// <summary>Split-brain protection: see <see cref="Quorum"/>.</summary>
public sealed partial class SmdSsNode
{
    // A primary answers reads from its copy only while it heard a majority within this window.
    // Far below FailureDetectionTimeout: the other side takes over only after declaring it Down.
    private const long ReadQuorumWindowMs = 1_000;
    private long _readQuorumUntilMs;
    private long _readQuorumCheckedMs = long.MinValue / 2;

    private IEnumerable<NodeId> Voters() =>
        Nodes.Nodes.Where(n => n.IsServing).Select(n => n.Id).Concat(SliceMap!.Slices.SelectMany(s => s.Replicas));

    /// <summary>May this node commit slice records? Suspect nodes do not count as in contact.</summary>
    private bool HasCommitQuorum() =>
        Quorum.Holds(_self!.Id, Voters(), n => Nodes.Find(n)?.State is NodeState.Up or NodeState.Joining or NodeState.Leaving);

    /// <summary>May this node, as a primary, answer reads from its own copy?</summary>
    private bool HasReadQuorum()
    {
        long now = MonoMs();
        if (now < Volatile.Read(ref _readQuorumUntilMs))
        {
            return true;
        }

        // Without a quorum, look again at most every 100 ms, not on every read.
        if (now - Volatile.Read(ref _readQuorumCheckedMs) < 100)
        {
            return false;
        }

        Volatile.Write(ref _readQuorumCheckedMs, now);
        long since = now - ReadQuorumWindowMs;
        if (!Quorum.Holds(_self!.Id, Voters(), n => _detector!.HeardSince(n, since)))
        {
            return false;
        }

        Volatile.Write(ref _readQuorumUntilMs, now + (ReadQuorumWindowMs / 2));
        return true;
    }
}
