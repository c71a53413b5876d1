using SmdSs.Model;
using SmdSs.Placement;

namespace SmdSs.Tests.Placement;

public sealed class StepDownRoundTests
{
    private static readonly NodeId A = new(1);
    private static readonly NodeId B = new(2);
    private static readonly NodeId C = new(3);
    private static readonly SliceRange Lower = new(0, 0x7FFFFFFF);
    private static readonly SliceRange Upper = new(0x80000000, 0xFFFFFFFF);

    private static bool Serving(NodeId node) => true;

    [Fact]
    public void Led_slices_are_handed_over_and_leases_on_the_others_given_back_to_their_primaries()
    {
        SliceMap map = SliceMap.FromSlices([new PieSlice(Lower, 5, [A, B, C]), new PieSlice(Upper, 5, [B, A, C])]);

        StepDownRound round = StepDownRound.Plan(map, [Lower, Upper], A, Serving);

        SliceChange handover = Assert.Single(round.Handovers);
        Assert.Equal(B, handover.Next.Primary);
        Assert.False(handover.Next.IsInSync(A));
        Assert.Equal(StepDownRound.Reason, handover.Reason);
        (NodeId primary, List<PieSlice> held) = Assert.Single(round.Goodbyes);
        Assert.Equal(B, primary);
        Assert.Equal(Upper, Assert.Single(held).Range);
        Assert.Equal([Lower, Upper], round.Left);
        Assert.Empty(round.Kept);
    }

    [Fact]
    public void A_split_is_followed_so_both_halves_are_given_up()
    {
        // A held the whole ring in sync when its machine went down; the ring was split since.
        SliceMap map = SliceMap.FromSlices([new PieSlice(Lower, 6, [B, A, C]), new PieSlice(Upper, 6, [C, A, B])]);

        StepDownRound round = StepDownRound.Plan(map, [new SliceRange(0, uint.MaxValue)], A, Serving);

        Assert.Equal([B, C], round.Goodbyes.Keys.Order());
        Assert.Equal([Lower, Upper], round.Left);
    }

    [Fact]
    public void A_slice_out_of_the_in_sync_set_is_done_and_one_no_one_else_holds_in_sync_is_kept()
    {
        var dropped = new PieSlice(Lower, 7, [B, C, A], [B, C]);
        var alone = new PieSlice(Upper, 7, [A, B, C], [A]);
        SliceMap map = SliceMap.FromSlices([dropped, alone]);

        StepDownRound round = StepDownRound.Plan(map, [Lower, Upper], A, Serving);

        Assert.Empty(round.Left);
        Assert.Empty(round.Handovers);
        Assert.Empty(round.Goodbyes);
        Assert.Equal(Upper, Assert.Single(round.Kept).Range);
    }

    [Fact]
    public void Only_a_serving_in_sync_replica_takes_a_led_slice_and_slices_never_held_are_left_alone()
    {
        SliceMap map = SliceMap.FromSlices([new PieSlice(Lower, 5, [A, B, C]), new PieSlice(Upper, 5, [B, A, C])]);

        StepDownRound round = StepDownRound.Plan(map, [Lower], A, n => n != B);

        Assert.Equal(C, Assert.Single(round.Handovers).Next.Primary);
        Assert.Empty(round.Goodbyes);
        Assert.Equal([Lower], round.Left);
    }
}
