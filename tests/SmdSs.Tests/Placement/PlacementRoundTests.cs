using SmdSs.Model;
using SmdSs.Placement;

namespace SmdSs.Tests.Placement;

public sealed class PlacementRoundTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(60);
    private static readonly NodeId A = new(1);
    private static readonly NodeId B = new(2);
    private static readonly NodeId C = new(3);

    [Theory]
    [InlineData((byte)NodeState.Up, 0, true)]
    [InlineData((byte)NodeState.Joining, 0, true)]
    [InlineData((byte)NodeState.Suspect, 0, true)]
    [InlineData((byte)NodeState.Leaving, 0, false)]
    [InlineData((byte)NodeState.Down, 1_000_000 - 59_999, true)]
    [InlineData((byte)NodeState.Down, 1_000_000 - 60_000, false)]
    [InlineData((byte)NodeState.Down, 0, false)]
    [InlineData((byte)NodeState.Left, 1_000_000 - 1, false)]
    public void A_node_keeps_its_replicas_while_it_serves_or_within_the_grace_counted_from_its_time_gone(byte state, long goneSinceMs, bool keepable)
    {
        var record = new NodeRecord(A, "a", (NodeState)state, 1, 0, 0, goneSinceMs);
        Assert.Equal(keepable, PlacementRound.IsKeepable(record, 1_000_000, Grace));
    }

    [Fact]
    public void Repairs_take_over_from_a_dead_primary_and_drop_unreachable_replicas_from_the_in_sync_set()
    {
        var led = new PieSlice(new SliceRange(0, 0x7FFFFFFF), 5, [A, B, C]);
        var lost = new PieSlice(new SliceRange(0x80000000, 0xFFFFFFFF), 5, [C, A, B]);
        SliceMap map = SliceMap.FromSlices([led, lost]);
        bool Serving(NodeId n) => n != C;

        List<SliceChange> repairs = PlacementRound.Repairs(map, A, Serving, Serving, mayTakeOverFrom: _ => true);

        SliceChange drop = Assert.Single(repairs, r => r.BasedOn == led);
        Assert.Equal(new[] { A, B, C }, drop.Next.Replicas.AsEnumerable());
        Assert.Equal(new[] { A, B }, drop.Next.InSync.AsEnumerable());
        SliceChange takeover = Assert.Single(repairs, r => r.BasedOn == lost);
        Assert.Equal(A, takeover.Next.Primary);
        Assert.False(takeover.Next.IsInSync(C));
        Assert.Equal(2, repairs.Count);
    }

    [Fact]
    public void A_primary_heard_from_lately_is_not_taken_over_though_the_node_map_holds_it_down()
    {
        var lost = new PieSlice(new SliceRange(0, 0xFFFFFFFF), 5, [C, A, B]);
        bool Serving(NodeId n) => n != C;

        Assert.Empty(PlacementRound.Repairs(SliceMap.FromSlices([lost]), A, Serving, Serving, mayTakeOverFrom: n => n != C));
        Assert.Single(PlacementRound.Repairs(SliceMap.FromSlices([lost]), A, Serving, Serving, mayTakeOverFrom: n => n != B));
    }
}
