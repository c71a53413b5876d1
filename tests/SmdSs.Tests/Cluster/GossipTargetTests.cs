using SmdSs.Membership;

namespace SmdSs.Tests.Cluster;

public sealed class GossipTargetTests
{
    private static readonly string[] Reachable = ["b", "c"];
    private static readonly string[] Friends = ["f"];
    private static readonly string[] Down = ["d"];

    [Fact]
    public void A_node_calls_reachable_peers_mostly_a_friend_every_fourth_round_and_a_down_node_every_fifth()
    {
        var picks = Enumerable.Range(1, 20).Select(round => Pick(round, Reachable, Friends, Down)).ToList();

        Assert.Equal(["f", "f", "f", "f", "f"], picks.Where((_, i) => (i + 1) % 4 == 0).Select(p => p.Target));
        Assert.All(picks.Where((_, i) => (i + 1) % 5 == 0 && (i + 1) % 4 != 0), p => Assert.Equal(("d", true), p));
        Assert.Equal(12, picks.Count(p => Reachable.Contains(p.Target)));
    }

    [Fact]
    public void A_node_that_reaches_nobody_tries_its_friends_and_the_nodes_it_holds_down_in_turn()
    {
        var picks = Enumerable.Range(1, 10).Select(round => Pick(round, [], Friends, Down)).ToList();

        Assert.Equal(5, picks.Count(p => p.Target == "f"));
        Assert.Equal(5, picks.Count(p => p == ("d", true)));
    }

    [Fact]
    public void With_no_friends_a_lone_node_calls_the_nodes_it_holds_down_every_round_and_with_nobody_known_nothing()
    {
        Assert.All(Enumerable.Range(1, 10), round => Assert.Equal(("d", true), Pick(round, [], [], Down)));
        Assert.False(GossipTarget.TryPick<string>(1, [], [], [], true, new Random(1), out _, out _));
    }

    [Fact]
    public void Down_rounds_go_to_the_three_most_recently_gone_and_every_fifth_one_to_any()
    {
        string[] down = ["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"];
        var recent = Enumerable.Range(1, 400).Where(r => r % 5 == 0 && r % 4 != 0 && r % 25 != 0).Select(r => Pick(r, Reachable, Friends, down).Target).ToHashSet();
        var any = Enumerable.Range(1, 4000).Where(r => r % 25 == 0 && r % 4 != 0).Select(r => Pick(r, Reachable, Friends, down).Target).ToHashSet();

        Assert.Equal(["d1", "d2", "d3"], recent.Order());
        Assert.Equal(down, any.Order());
    }

    [Fact]
    public void A_down_round_while_a_call_to_a_down_node_still_runs_goes_to_a_reachable_peer()
    {
        Assert.True(GossipTarget.TryPick(5, Reachable, Friends, Down, false, new Random(5), out string? target, out bool isDown));
        Assert.Contains(target, Reachable);
        Assert.False(isDown);
    }

    private static (string? Target, bool IsDown) Pick(int round, IReadOnlyList<string> reachable, IReadOnlyList<string> friends, IReadOnlyList<string> down) =>
        GossipTarget.TryPick(round, reachable, friends, down, true, new Random(round), out string? target, out bool isDown) ? (target, isDown) : (null, false);
}
