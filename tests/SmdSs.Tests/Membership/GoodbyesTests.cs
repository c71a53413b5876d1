using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs.Tests.Membership;

/// <summary>A node that said goodbye is not heard from again until a newer life (<see cref="Goodbyes"/>).</summary>
public sealed class GoodbyesTests
{
    private static readonly NodeId B = new(2);

    private static NodeRecord BIn(long incarnation, NodeState state) => new(B, "127.0.0.1:7402", state, incarnation, 0, 0);

    [Fact]
    public void Messages_of_a_life_that_said_goodbye_do_not_count_as_heard_and_a_newer_life_does()
    {
        var detector = new FailureDetector(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5));
        var goodbyes = new Goodbyes(detector);
        NodeMap nodes = NodeMap.Of([BIn(1 << 20, NodeState.Up)]);
        goodbyes.Heard(B, null, nodes, 1_000);
        Assert.True(detector.HeardSince(B, 1_000));

        nodes = NodeMap.Of([BIn(1 << 20, NodeState.Down)]);
        goodbyes.Said(BIn(1 << 20, NodeState.Down), nodes);
        Assert.Null(detector.LastHeardMs(B));
        Assert.True(goodbyes.IsOfEndedLife(BIn(1 << 20, NodeState.Up)));

        // A message it sent before it stopped, arriving late.
        goodbyes.Heard(B, null, nodes, 2_000);
        goodbyes.Heard(B, 1 << 20, nodes, 2_000);
        Assert.Null(detector.LastHeardMs(B));

        // Back in a newer incarnation (its message says so before the map does).
        goodbyes.Heard(B, 2 << 20, nodes, 3_000);
        Assert.True(detector.HeardSince(B, 3_000));
        Assert.False(goodbyes.IsOfEndedLife(BIn(2 << 20, NodeState.Up)));
    }

    [Fact]
    public void A_goodbye_of_a_life_the_map_does_not_hold_as_stopped_is_not_taken()
    {
        var detector = new FailureDetector(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5));
        var goodbyes = new Goodbyes(detector);
        goodbyes.Heard(B, null, NodeMap.Empty, 1_000);

        // The map holds a newer life Up: a late goodbye of the old one is not news.
        goodbyes.Said(BIn(1 << 20, NodeState.Down), NodeMap.Of([BIn(2 << 20, NodeState.Up)]));
        // A record that says it serves is no goodbye.
        goodbyes.Said(BIn(2 << 20, NodeState.Up), NodeMap.Of([BIn(2 << 20, NodeState.Up)]));
        Assert.True(detector.HeardSince(B, 1_000));
        Assert.False(goodbyes.IsOfEndedLife(BIn(1 << 20, NodeState.Up)));
    }

    [Fact]
    public void Each_tick_forgets_a_node_that_said_goodbye_whatever_a_race_marked_and_a_forgotten_node_is_dropped()
    {
        var detector = new FailureDetector(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5));
        var goodbyes = new Goodbyes(detector);
        NodeMap nodes = NodeMap.Of([BIn(1 << 20, NodeState.Down)]);
        goodbyes.Said(BIn(1 << 20, NodeState.Down), nodes);

        // A message counted on another thread just before the goodbye went in.
        detector.Heard(B, 2_000);
        goodbyes.Tend(nodes);
        Assert.Null(detector.LastHeardMs(B));

        goodbyes.Forget(B);
        Assert.False(goodbyes.IsOfEndedLife(BIn(1 << 20, NodeState.Up)));
        goodbyes.Heard(B, null, nodes, 3_000);
        Assert.True(detector.HeardSince(B, 3_000));
    }

    [Fact]
    public void Each_tick_leaves_alone_a_node_back_in_a_newer_life_and_nodes_that_never_said_goodbye()
    {
        var detector = new FailureDetector(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5));
        var goodbyes = new Goodbyes(detector);
        var c = new NodeId(3);
        goodbyes.Said(BIn(1 << 20, NodeState.Down), NodeMap.Of([BIn(1 << 20, NodeState.Down)]));

        // B is back Up in a newer life (the map holds it before any message of it counted).
        NodeMap nodes = NodeMap.Of([BIn(2 << 20, NodeState.Up), new NodeRecord(c, "127.0.0.1:7403", NodeState.Up, 1 << 20, 0, 0)]);
        detector.Heard(B, 2_000);
        goodbyes.Heard(c, null, nodes, 2_000);
        goodbyes.Tend(nodes);
        Assert.True(detector.HeardSince(B, 2_000));
        Assert.True(detector.HeardSince(c, 2_000));
    }
}
