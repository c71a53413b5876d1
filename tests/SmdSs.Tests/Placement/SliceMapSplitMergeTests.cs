using System.Collections.Immutable;
using SmdSs.Model;

namespace SmdSs.Tests.Placement;

/// <summary>How maps of nodes that saw different splits merge: halves carve, stale parents are ignored, all converge.</summary>
public sealed class SliceMapSplitMergeTests
{
    private static readonly ImmutableArray<NodeId> Replicas = [new NodeId(1), new NodeId(2), new NodeId(3)];

    [Fact]
    public void Both_halves_of_a_split_replace_the_whole_slice()
    {
        SliceMap before = SliceMap.CreateInitial(4, Replicas);
        SliceMap after = before.Split(before.Slices[1].Range.Midpoint);

        SliceMap merged = before.Merge(after.Slices, out List<PieSlice> changed, out List<PieSlice> unknown);

        Assert.Equal(after.Digest, merged.Digest);
        Assert.Equal(2, changed.Count);
        Assert.Empty(unknown);
    }

    [Fact]
    public void One_half_alone_is_carved_out_and_the_rest_keeps_the_old_record_until_its_half_arrives()
    {
        SliceMap before = SliceMap.CreateInitial(4, Replicas);
        SliceMap after = before.Split(before.Slices[1].Range.Midpoint);
        PieSlice upper = after.Slices[2];

        SliceMap partly = before.Merge([upper], out _, out _);

        Assert.Equal(5, partly.Count);
        Assert.Null(SliceMap.FindCoverageError(partly.Slices));
        Assert.Equal(before.Slices[1].Epoch, partly.Slices[1].Epoch);
        Assert.Equal(after.Digest, partly.Merge([after.Slices[1]], out _, out _).Digest);
    }

    [Fact]
    public void A_stale_parent_record_does_not_undo_a_split_and_is_not_a_layout_mismatch()
    {
        SliceMap before = SliceMap.CreateInitial(4, Replicas);
        SliceMap after = before.Split(before.Slices[1].Range.Midpoint);

        SliceMap merged = after.Merge([before.Slices[1]], out List<PieSlice> changed, out List<PieSlice> unknown);

        Assert.Same(after, merged);
        Assert.Empty(changed);
        Assert.Empty(unknown);
    }

    [Fact]
    public void A_different_initial_layout_at_the_same_epoch_is_reported()
    {
        SliceMap mine = SliceMap.CreateInitial(4, Replicas);
        SliceMap theirs = SliceMap.CreateInitial(8, Replicas);

        mine.Merge(theirs.Slices, out List<PieSlice> changed, out List<PieSlice> unknown);

        Assert.Empty(changed);
        Assert.NotEmpty(unknown);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Maps_that_saw_random_splits_in_any_order_converge(int seed)
    {
        var random = new Random(seed);
        SliceMap truth = SliceMap.CreateInitial(4, Replicas);
        var history = new List<SliceMap> { truth };
        for (int i = 0; i < 12; i++)
        {
            PieSlice victim = truth.Slices[random.Next(truth.Count)];
            truth = truth.Split(victim.Range.Midpoint);
            history.Add(truth);
        }

        // A node that learns records of any past maps, shuffled, ends at the latest layout.
        SliceMap node = SliceMap.CreateInitial(4, Replicas);
        List<PieSlice> records = [.. history.SelectMany(m => m.Slices).OrderBy(_ => random.Next())];
        node = node.Merge(records, out _, out _);
        Assert.Equal(truth.Digest, node.Merge(truth.Slices, out _, out _).Digest);
        Assert.Null(SliceMap.FindCoverageError(node.Slices));
    }
}
