using SmdSs.Core;
using SmdSs.Model;

namespace SmdSs.Tests.Core;

public sealed class MembershipStateTests
{
    private const long Now = 10_000_000_000;
    private static readonly TimeSpan Retention = TimeSpan.FromHours(24);
    private static readonly NodeId A = new(1);
    private static readonly NodeId B = new(2);
    private static readonly NodeId C = new(3);
    private static readonly SliceMap NoSlices = SliceMap.CreateInitial(1, [A]);

    private static NodeRecord Up(NodeId id, long incarnation = 1 << 20) => new(id, $"n{id.Value}", NodeState.Up, incarnation, 0, 0);

    private static NodeRecord Down(NodeId id, long goneSinceMs, long incarnation = 1 << 20) => new(id, $"n{id.Value}", NodeState.Down, incarnation, 0, 0, goneSinceMs);

    private static MembershipState OfA(int maxNodes = 4096) => new(Up(A), NodeMap.Empty, Retention, maxNodes);

    [Fact]
    public void A_message_with_one_record_out_of_bounds_is_refused_whole()
    {
        MembershipState membership = OfA();
        NodeRecord forged = Up(C) with { Incarnation = long.MaxValue };

        MembershipChange change = membership.Merge([Up(B), forged], NoSlices, Now, mayRefute: true);

        Assert.NotNull(change.Refusal);
        Assert.Contains("incarnation", change.Refusal, StringComparison.Ordinal);
        Assert.False(change.MapChanged);
        Assert.Null(membership.Nodes.Find(B));
        Assert.Equal(change.Refusal, membership.Refusal([forged], Now));
    }

    [Fact]
    public void A_rumour_that_this_node_is_down_is_refuted_unless_it_is_going_down()
    {
        MembershipState membership = OfA();
        NodeRecord rumour = Down(A, Now - 5, incarnation: (1 << 20) + 3);

        membership.Merge([rumour], NoSlices, Now, mayRefute: false);
        Assert.Equal(1 << 20, membership.Self.Incarnation);

        MembershipChange change = membership.Merge([rumour], NoSlices, Now, mayRefute: true);
        Assert.True(change.MapChanged);
        Assert.Equal(NodeState.Up, membership.Self.State);
        Assert.Equal((1 << 20) + 4, membership.Self.Incarnation);
        Assert.Equal(membership.Self, membership.Nodes.Find(A));
    }

    [Fact]
    public void A_stale_copy_of_a_forgotten_node_is_not_taken_back_unless_a_slice_names_it()
    {
        MembershipState membership = OfA();
        NodeRecord longGone = Down(B, Now - (long)Retention.TotalMilliseconds - 1);

        Assert.False(membership.Merge([longGone], NoSlices, Now, mayRefute: true).MapChanged);
        Assert.Null(membership.Nodes.Find(B));

        SliceMap namingB = SliceMap.CreateInitial(1, [A, B]);
        Assert.True(membership.Merge([longGone], namingB, Now, mayRefute: true).MapChanged);
        Assert.Empty(membership.ForgetExpired(namingB, Now));
        Assert.Equal(B, Assert.Single(membership.ForgetExpired(NoSlices, Now)).Id);
        Assert.False(membership.AnyExpired(Now));
    }

    [Fact]
    public void At_the_cap_the_earliest_gone_nodes_make_room_and_the_rest_of_the_new_ones_are_left_out()
    {
        var membership = new MembershipState(Up(A), NodeMap.Of([Down(B, Now - 1_000), Down(C, Now - 2_000)]), Retention, maxNodes: 3);
        NodeRecord[] fresh = [Up(new NodeId(10)), Up(new NodeId(11)), Up(new NodeId(12))];

        MembershipChange change = membership.Merge(fresh, NoSlices, Now, mayRefute: true);

        Assert.True(change.CapReached);
        Assert.Equal(new[] { B, C }, change.Evicted.Select(r => r.Id).Order());
        Assert.Equal(1, change.LeftOut);
        Assert.Equal(3, membership.Nodes.Count);
        Assert.Equal(2, fresh.Count(r => membership.Nodes.Find(r.Id) is not null));
    }

    [Fact]
    public void This_nodes_own_state_changes_beat_its_earlier_record()
    {
        MembershipState membership = OfA();
        NodeRecord leaving = membership.SetSelfState(NodeState.Leaving, Now, bumpIncarnation: false);
        Assert.Equal(NodeState.Leaving, membership.Nodes.Find(A)!.State);
        Assert.True(leaving.Supersedes(Up(A)));

        NodeRecord back = membership.SetSelfState(NodeState.Up, Now, bumpIncarnation: true);
        Assert.Equal(leaving.Incarnation + 1, back.Incarnation);
        Assert.Equal(back, membership.Self);
    }
}
