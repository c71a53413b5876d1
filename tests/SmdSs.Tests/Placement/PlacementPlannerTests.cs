using System.Collections.Immutable;
using SmdSs.Model;
using SmdSs.Placement;

namespace SmdSs.Tests.Placement;

/// <summary>
/// The planner driven to a fixed point the way the cluster drives it: every primary applies
/// one step toward the target per round, and a replica that was added catches up by the next
/// round. The target must converge (no chasing) to an even spread.
/// </summary>
public sealed class PlacementPlannerTests
{
    [Theory]
    [InlineData(1, 3)]
    [InlineData(3, 4)]
    [InlineData(3, 5)]
    [InlineData(3, 6)]
    [InlineData(5, 6)]
    [InlineData(4, 7)]
    public void Nodes_joining_converge_to_an_even_spread(int before, int after)
    {
        List<NodeId> nodes = [.. Enumerable.Range(1, after).Select(i => new NodeId((ulong)(i * 7919)))];
        SliceMap map = Settle(SliceMap.CreateInitial(16, [nodes[0]]), nodes[..before]);
        map = Settle(map, nodes);

        AssertEven(map, nodes, 16 * 3);
    }

    [Theory]
    [InlineData(5, 4)]
    [InlineData(6, 3)]
    [InlineData(4, 3)]
    public void Nodes_leaving_converge_to_an_even_spread_over_the_rest(int before, int after)
    {
        List<NodeId> nodes = [.. Enumerable.Range(1, before).Select(i => new NodeId((ulong)(i * 104729)))];
        SliceMap map = Settle(SliceMap.CreateInitial(16, [nodes[0]]), nodes);
        List<NodeId> remaining = nodes[(before - after)..];
        map = Settle(map, remaining);

        AssertEven(map, remaining, 16 * 3);
        Assert.All(map.Slices, s => Assert.All(s.Replicas, r => Assert.Contains(r, remaining)));
    }

    // Random node ids (as real nodes draw them), joining one at a time up to 6 as in the membership
    // property test: every stage must reach a fixed point (no target flipping) with an even spread.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Random_node_ids_joining_one_by_one_converge_at_every_stage(int seed)
    {
        var random = new Random(seed);
        List<NodeId> nodes = [.. Enumerable.Range(0, 6).Select(_ => new NodeId((ulong)random.NextInt64(1, long.MaxValue)))];
        SliceMap map = Settle(SliceMap.CreateInitial(16, [nodes[0]]), nodes[..3]);
        for (int count = 4; count <= 6; count++)
        {
            map = Settle(map, nodes[..count]);
            AssertEven(map, nodes[..count], 16 * 3);
        }
    }

    // As above, but the primaries do not act in lock step: each round a random half of them take
    // their step, and a replica added catches up at a random later round.
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(16)]
    public void Random_node_ids_joining_with_primaries_out_of_step_converge(int seed)
    {
        var random = new Random(seed);
        List<NodeId> nodes = [.. Enumerable.Range(0, 6).Select(_ => new NodeId((ulong)random.NextInt64(1, long.MaxValue)))];
        SliceMap map = Settle(SliceMap.CreateInitial(16, [nodes[0]]), nodes[..3]);
        for (int count = 4; count <= 6; count++)
        {
            List<NodeId> present = nodes[..count];
            int quietRounds = 0;
            for (int round = 0; quietRounds < 20; round++)
            {
                Assert.True(round < 2_000, $"seed {seed}, {count} nodes: no fixed point in 2,000 rounds");
                ImmutableArray<PlacementTarget> targets = Plan(map, present);
                SliceMap next = map;
                for (int i = 0; i < map.Count; i++)
                {
                    PieSlice slice = map.Slices[i];
                    if (slice.Replicas.Length > slice.InSync.Length)
                    {
                        if (random.Next(2) == 0)
                        {
                            next = next.With(slice.Next(slice.Replicas, slice.Replicas));
                        }
                    }
                    else if (random.Next(2) == 0 && SliceMoves.NextStep(slice, targets[i], slice.Primary!.Value) is { } step)
                    {
                        next = next.With(step);
                    }
                }

                quietRounds = next.Digest == map.Digest ? quietRounds + 1 : 0;
                map = next;
            }

            AssertEven(map, present, 16 * 3);
        }
    }

    [Fact]
    public void The_target_does_not_move_while_a_move_toward_it_is_under_way()
    {
        List<NodeId> nodes = [.. Enumerable.Range(1, 4).Select(i => new NodeId((ulong)i))];
        SliceMap map = Settle(SliceMap.CreateInitial(16, [nodes[0]]), nodes[..3]);
        ImmutableArray<PlacementTarget> first = Plan(map, nodes);

        // One round of steps: replicas added, not yet in sync.
        SliceMap moving = Step(map, first, catchUp: false);
        ImmutableArray<PlacementTarget> during = Plan(moving, nodes);

        Assert.Equal(first.Select(t => string.Join(",", t.Replicas.Order())), during.Select(t => string.Join(",", t.Replicas.Order())));
    }

    private static SliceMap Settle(SliceMap map, List<NodeId> nodes)
    {
        for (int round = 0; round < 200; round++)
        {
            SliceMap next = Step(map, Plan(map, nodes), catchUp: true);
            next = FailOver(next, nodes);
            if (next.Digest == map.Digest)
            {
                return map;
            }

            map = next;
        }

        throw new InvalidOperationException("placement did not converge in 200 rounds");
    }

    private static ImmutableArray<PlacementTarget> Plan(SliceMap map, List<NodeId> nodes) =>
        PlacementPlanner.Plan(map, nodes, nodes.ToHashSet(), 3);

    // Each primary takes one step; with catchUp, replicas added earlier are now in sync.
    private static SliceMap Step(SliceMap map, ImmutableArray<PlacementTarget> targets, bool catchUp)
    {
        for (int i = 0; i < map.Count; i++)
        {
            PieSlice slice = map.Slices[i];
            if (catchUp && slice.Replicas.Length > slice.InSync.Length)
            {
                slice = slice.Next(slice.Replicas, slice.Replicas);
            }
            else if (SliceMoves.NextStep(slice, targets[i], slice.Primary!.Value) is { } step)
            {
                slice = step;
            }

            map = map.With(slice);
        }

        return map;
    }

    // Primaries that left hand over to the first in-sync replica still present.
    private static SliceMap FailOver(SliceMap map, List<NodeId> nodes)
    {
        foreach (PieSlice slice in map.Slices)
        {
            NodeId? heir = slice.Replicas.Where(n => n != slice.Primary && nodes.Contains(n)).Select(n => (NodeId?)n).FirstOrDefault();
            if (heir is { } next && SliceMoves.TakeOver(slice, next, nodes.Contains) is { } record)
            {
                map = map.With(record);
            }
        }

        return map;
    }

    private static void AssertEven(SliceMap map, List<NodeId> nodes, int total)
    {
        Assert.Null(SliceMap.FindCoverageError(map.Slices));
        Assert.All(map.Slices, s => Assert.Equal(Math.Min(3, nodes.Count), s.Replicas.Distinct().Count()));
        var counts = nodes.ToDictionary(n => n, n => map.Slices.Count(s => s.IsHeldBy(n)));
        int expected = total / nodes.Count;
        Assert.All(counts.Values, c => Assert.InRange(c, expected, expected + 1));
        var primaries = nodes.ToDictionary(n => n, n => map.Slices.Count(s => s.Primary == n));
        Assert.All(primaries.Values, c => Assert.InRange(c, 16 / nodes.Count - 1, (16 + nodes.Count - 1) / nodes.Count + 1));
    }
}
