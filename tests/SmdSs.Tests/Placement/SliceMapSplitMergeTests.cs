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
        Assert.Contains(after.Slices[1], changed);
        Assert.Contains(after.Slices[2], changed);
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

    /// <summary>A node configured with another InitialSliceCount: none of its records changes this map, in either direction (a misconfigured node must not re-cut the farm's layout).</summary>
    [Theory]
    [InlineData(4, 3)]
    [InlineData(3, 4)]
    [InlineData(16, 12)]
    [InlineData(5, 16)]
    public void A_layout_no_halving_gives_is_reported_and_changes_nothing(int mine, int theirs)
    {
        SliceMap held = SliceMap.CreateInitial(mine, Replicas);
        // Newer than every held record: only the layout keeps them out.
        IEnumerable<PieSlice> other = SliceMap.CreateInitial(theirs, Replicas).Slices.Select(s => s with { Epoch = 7 });

        SliceMap merged = held.Merge(other, out List<PieSlice> changed, out List<PieSlice> unknown);

        Assert.Empty(changed);
        Assert.NotEmpty(unknown);
        Assert.Same(held, merged);
    }

    [Fact]
    public void A_piece_of_a_slice_is_cut_in_by_halves_and_the_halves_beside_it_keep_the_held_record()
    {
        SliceMap held = SliceMap.CreateInitial(1, Replicas);
        SliceMap split = held.Split(held.Slices[0].Range.Midpoint);
        split = split.Split(split.Slices[0].Range.Midpoint);
        PieSlice quarter = split.Slices[0] with { Epoch = 9 };

        SliceMap merged = held.Merge([quarter], out List<PieSlice> changed, out _);

        Assert.Equal([quarter.Range, split.Slices[1].Range, split.Slices[2].Range], merged.Slices.Select(s => s.Range));
        Assert.Equal([9L, held.Slices[0].Epoch, held.Slices[0].Epoch], merged.Slices.Select(s => s.Epoch));
        Assert.Equal(3, changed.Count);
    }

    /// <summary>
    /// A build before this one cut a held slice at a record's exact bounds: a quarter learned
    /// first left the other three quarters as one slice, no halving of anything. Given the
    /// initial layout, the next quarter still merges, its halves beside it clipped to that slice.
    /// </summary>
    [Fact]
    public void A_remainder_an_older_build_cut_at_exact_bounds_still_takes_the_next_records()
    {
        SliceMap initial = SliceMap.CreateInitial(1, Replicas);
        SliceRange whole = initial.Slices[0].Range;
        uint quarter = (uint)(whole.Width / 4);
        PieSlice first = initial.Slices[0] with { Range = new SliceRange(0, quarter - 1), Epoch = 5 };
        PieSlice rest = initial.Slices[0] with { Range = new SliceRange(quarter, whole.End) };
        SliceMap held = SliceMap.FromSlices([first, rest]);
        PieSlice third = initial.Slices[0] with { Range = new SliceRange(2 * quarter, (3 * quarter) - 1), Epoch = 6 };

        SliceMap merged = held.Merge([third], out _, out List<PieSlice> unknown, initial);

        Assert.Empty(unknown);
        Assert.Equal([0u, quarter, 2 * quarter, 3 * quarter], merged.Slices.Select(s => s.Range.Start));
        Assert.Equal([5L, rest.Epoch, 6L, rest.Epoch], merged.Slices.Select(s => s.Epoch));
        Assert.Null(SliceMap.FindCoverageError(merged.Slices));
        held.Merge([third], out _, out List<PieSlice> unknownWithoutLayout);
        Assert.NotEmpty(unknownWithoutLayout);
    }

    /// <summary>A map made in another initial layout (the option changed between restarts): a halving of a held slice still merges, as it did before merges knew the layout.</summary>
    [Fact]
    public void A_halving_of_a_held_slice_merges_though_no_halving_of_the_initial_slice_gives_it()
    {
        // Thirds, inside the one initial slice given, and no halving of it.
        SliceMap held = SliceMap.CreateInitial(3, Replicas);
        PieSlice half = held.Slices[1] with { Range = held.Slices[1].Range.SplitAt(held.Slices[1].Range.Midpoint).Low, Epoch = 9 };

        SliceMap merged = held.Merge([half], out _, out List<PieSlice> unknown, SliceMap.CreateInitial(1, Replicas));

        Assert.Empty(unknown);
        Assert.Equal(4, merged.Count);
        Assert.Null(SliceMap.FindCoverageError(merged.Slices));
    }

    [Fact]
    public void An_initial_layout_that_halves_this_ones_is_taken_as_splits_would_be()
    {
        SliceMap mine = SliceMap.CreateInitial(4, Replicas);
        SliceMap theirs = SliceMap.CreateInitial(8, Replicas);

        SliceMap merged = mine.Merge(theirs.Slices, out _, out List<PieSlice> unknown);

        Assert.Empty(unknown);
        Assert.Equal(theirs.Digest, merged.Digest);
        Assert.Equal(theirs.Digest, theirs.Merge(mine.Slices, out _, out _).Digest);
    }

    /// <summary>
    /// A primary split its slice while cut off; the others, never told, took the whole slice over
    /// (a takeover skips 1024 epochs). Each map takes the other's records: both end at the finer
    /// layout under the takeover's record, in either order (before, they never merged).
    /// </summary>
    [Fact]
    public void A_split_the_others_never_learned_and_their_takeover_of_the_whole_slice_meet_at_the_finer_layout()
    {
        NodeId a = Replicas[0], b = Replicas[1], c = Replicas[2];
        SliceMap start = SliceMap.CreateInitial(4, Replicas);
        PieSlice whole = start.Slices[1];
        SliceMap minority = start.Split(whole.Range.Midpoint);
        PieSlice lower = minority.Slices[1];
        minority = minority.With(lower.Next([a, b, c], [a]));
        SliceMap majority = start.With(whole.Next([b, c, a], [b, c]) with { Epoch = whole.Epoch + 1025 });

        SliceMap left = minority.Merge(majority.Slices, out _, out List<PieSlice> unknownLeft);
        SliceMap right = majority.Merge(minority.Slices, out _, out List<PieSlice> unknownRight);

        Assert.Empty(unknownLeft);
        Assert.Empty(unknownRight);
        Assert.Equal(left.Digest, right.Digest);
        Assert.Equal(5, left.Count);
        Assert.All(left.Slices.Skip(1).Take(2), s => Assert.Equal((whole.Epoch + 1025, b), (s.Epoch, s.Primary!.Value)));
        Assert.Null(SliceMap.FindCoverageError(left.Slices));
        Assert.Same(left, left.Merge(majority.Slices.Concat(minority.Slices), out _, out _));
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
        Assert.Equal(truth.Digest, node.Digest);
        Assert.Null(SliceMap.FindCoverageError(node.Slices));
    }
}
