using System.Collections.Immutable;
using SmdSs.Model;

namespace SmdSs.Tests.Placement;

public sealed class SliceMapTests
{
    private static readonly ImmutableArray<NodeId> OneNode = [new NodeId(7)];

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(16)]
    [InlineData(4096)]
    public void Initial_map_covers_the_whole_space_with_the_requested_slice_count(int count)
    {
        SliceMap map = SliceMap.CreateInitial(count, OneNode);

        Assert.Equal(count, map.Count);
        Assert.Null(SliceMap.FindCoverageError(map.Slices));
        Assert.Equal(0u, map.Slices[0].Range.Start);
        Assert.Equal(uint.MaxValue, map.Slices[^1].Range.End);
        Assert.All(map.Slices, s => Assert.Equal(OneNode, s.Replicas));
    }

    [Fact]
    public void Lookup_finds_the_slice_at_both_edges_of_every_slice()
    {
        SliceMap map = SliceMap.CreateInitial(16, OneNode);
        for (int i = 0; i < map.Count; i++)
        {
            SliceRange range = map.Slices[i].Range;
            Assert.Equal(i, map.IndexOf(range.Start));
            Assert.Equal(i, map.IndexOf(range.End));
        }
    }

    [Fact]
    public void Split_cuts_one_slice_in_two_and_bumps_its_epoch()
    {
        SliceMap map = SliceMap.CreateInitial(1, OneNode);
        SliceMap split = map.Split(0x8000_0000);

        Assert.Equal(2, split.Count);
        Assert.Equal(new SliceRange(0, 0x7FFF_FFFF), split.Slices[0].Range);
        Assert.Equal(new SliceRange(0x8000_0000, uint.MaxValue), split.Slices[1].Range);
        Assert.All(split.Slices, s => Assert.Equal(2, s.Epoch));
    }

    [Fact]
    public void Split_at_a_slice_start_is_rejected()
    {
        SliceMap map = SliceMap.CreateInitial(2, OneNode);
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Split(map.Slices[1].Range.Start));
    }

    [Fact]
    public void Coverage_checker_reports_gaps_and_overlaps()
    {
        PieSlice Slice(uint start, uint end) => new(new SliceRange(start, end), 1, OneNode);

        Assert.NotNull(SliceMap.FindCoverageError([Slice(1, uint.MaxValue)]));
        Assert.NotNull(SliceMap.FindCoverageError([Slice(0, 10), Slice(12, uint.MaxValue)]));
        Assert.NotNull(SliceMap.FindCoverageError([Slice(0, 10), Slice(10, uint.MaxValue)]));
        Assert.NotNull(SliceMap.FindCoverageError([Slice(0, 10)]));
        Assert.Null(SliceMap.FindCoverageError([Slice(0, 10), Slice(11, uint.MaxValue)]));
        Assert.Throws<InvalidOperationException>(() => SliceMap.FromSlices([Slice(0, 10), Slice(12, uint.MaxValue)]));
    }

    /// <summary>Property: any random sequence of splits keeps coverage, and every hash finds exactly one slice.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Random_splits_keep_coverage_and_every_hash_finds_exactly_one_slice(int seed)
    {
        var random = new Random(seed);
        SliceMap map = SliceMap.CreateInitial(random.Next(1, 17), OneNode);
        for (int step = 0; step < 300; step++)
        {
            PieSlice victim = map.Slices[random.Next(map.Count)];
            if (victim.Range.Width < 2)
            {
                continue;
            }

            uint at = (uint)(victim.Range.Start + 1 + (ulong)random.NextInt64((long)victim.Range.Width - 1));
            map = map.Split(at);

            Assert.Null(SliceMap.FindCoverageError(map.Slices));
            for (int probe = 0; probe < 20; probe++)
            {
                uint hash = (uint)random.NextInt64(0, 1L << 32);
                int holders = map.Slices.Count(s => s.Range.Contains(hash));
                Assert.Equal(1, holders);
                Assert.True(map.Find(hash).Range.Contains(hash));
            }

            Assert.Equal(map.Count - 1, map.IndexOf(uint.MaxValue));
            Assert.Equal(0, map.IndexOf(0));
        }
    }
}
