using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs.Tests.Cluster;

/// <summary>The failure detector's verdicts, on a clock the test moves.</summary>
public sealed class FailureDetectorTests
{
    private static readonly NodeId Self = new(1);
    private static readonly NodeId Peer = new(2);
    private const long Wall = 1_800_000_000_000;
    private static readonly NodeMap Map = NodeMap.Of([
        new NodeRecord(Self, "127.0.0.1:1", NodeState.Up, 1, 1, 0),
        new NodeRecord(Peer, "127.0.0.1:2", NodeState.Up, 1, 1, 0)]);

    private static FailureDetector Detector() => new(TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(2_000));

    [Fact]
    public void Silence_alone_does_not_make_a_node_suspect_while_no_probe_round_has_failed()
    {
        FailureDetector detector = Detector();
        detector.Heard(Peer, 0);

        // A probe round still running (an indirect ping slowed by a busy machine) is no verdict.
        Assert.Empty(detector.Evaluate(Map, Self, 1_500, Wall));
    }

    [Fact]
    public void A_failed_probe_round_after_the_last_contact_makes_a_silent_node_suspect()
    {
        FailureDetector detector = Detector();
        detector.Heard(Peer, 0);
        detector.ProbeFailed(Peer, 700);

        Assert.Empty(detector.Evaluate(Map, Self, 700, Wall));
        NodeRecord verdict = Assert.Single(detector.Evaluate(Map, Self, 800, Wall));
        Assert.Equal(NodeState.Suspect, verdict.State);
    }

    [Fact]
    public void A_failed_round_before_the_last_contact_is_forgotten()
    {
        FailureDetector detector = Detector();
        detector.ProbeFailed(Peer, 100);
        detector.Heard(Peer, 200);

        Assert.Empty(detector.Evaluate(Map, Self, 1_100, Wall));
    }

    [Fact]
    public void A_node_silent_for_the_whole_timeout_is_down_whatever_its_probes_say()
    {
        FailureDetector detector = Detector();
        detector.Heard(Peer, 0);

        NodeRecord verdict = Assert.Single(detector.Evaluate(Map, Self, 2_000, Wall));
        Assert.Equal(NodeState.Down, verdict.State);
        Assert.Equal(Wall, verdict.GoneSinceMs);
    }

    [Fact]
    public void A_node_already_suspect_is_not_suspected_again_and_a_new_node_gets_a_full_timeout()
    {
        FailureDetector detector = Detector();
        NodeMap suspected = Map.With(Map.Find(Peer)! with { State = NodeState.Suspect });
        detector.Heard(Peer, 0);
        detector.ProbeFailed(Peer, 900);
        Assert.Empty(detector.Evaluate(suspected, Self, 1_000, Wall));

        FailureDetector fresh = Detector();
        Assert.Empty(fresh.Evaluate(Map, Self, 10_000, Wall));
        Assert.Empty(fresh.Evaluate(Map, Self, 11_999, Wall));
        Assert.Equal(NodeState.Down, Assert.Single(fresh.Evaluate(Map, Self, 12_000, Wall)).State);
    }
}
