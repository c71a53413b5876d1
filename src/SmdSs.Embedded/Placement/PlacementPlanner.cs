using System.Collections.Immutable;
using SmdSs.Membership;

namespace SmdSs.Placement;

/// <summary>
/// The deterministic placement target: slices × RF replicas spread evenly over the candidate
/// nodes (each holds ⌊total/n⌋ or ⌈total/n⌉), primaries spread evenly too, with as few moves
/// as possible from the current map. Pure: every node computes the same target from the same
/// maps, and each primary moves only its own slices toward it.
/// </summary>
internal static class PlacementPlanner
{
    /// <param name="map">The current slice map.</param>
    /// <param name="eligible">Nodes that may receive new replicas (Up), in id order.</param>
    /// <param name="keepable">Nodes that may keep the replicas they hold (serving, or Down within the grace period).</param>
    /// <param name="replicationFactor">The wanted replicas per slice.</param>
    public static ImmutableArray<PlacementTarget> Plan(SliceMap map, IReadOnlyCollection<NodeId> eligible, IReadOnlySet<NodeId> keepable, int replicationFactor)
    {
        List<NodeId> candidates = [.. eligible.Union(keepable).Distinct().Order()];
        if (candidates.Count == 0)
        {
            return [.. map.Slices.Select(s => new PlacementTarget(s.Replicas, s.Primary ?? default))];
        }

        int rf = Math.Min(replicationFactor, candidates.Count);
        Dictionary<NodeId, int> capacity = Capacities(map, candidates, map.Count * rf);
        var counts = candidates.ToDictionary(n => n, _ => 0);
        var sets = new List<NodeId>[map.Count];

        // Pass 1: keep what each slice holds, while the holder stays under its capacity.
        for (int i = 0; i < map.Count; i++)
        {
            sets[i] = [];
            foreach (NodeId node in map.Slices[i].Replicas)
            {
                if (sets[i].Count < rf && keepable.Contains(node) && counts.TryGetValue(node, out int held) && held < capacity[node])
                {
                    sets[i].Add(node);
                    counts[node] = held + 1;
                }
            }
        }

        // Pass 2: fill every slice up to rf from the least loaded eligible nodes.
        for (int i = 0; i < map.Count; i++)
        {
            while (sets[i].Count < rf)
            {
                NodeId? pick = eligible.Where(n => !sets[i].Contains(n) && counts.ContainsKey(n))
                    .OrderBy(n => counts[n] >= capacity[n] ? 1 : 0).ThenBy(n => counts[n]).ThenBy(n => n)
                    .Select(n => (NodeId?)n).FirstOrDefault();
                if (pick is not { } chosen)
                {
                    break;
                }

                sets[i].Add(chosen);
                counts[chosen]++;
            }
        }

        return ChoosePrimaries(map, sets, candidates);
    }

    // ⌊total/n⌋ each; the remainder goes to the nodes that already hold the most, so fewer replicas move.
    private static Dictionary<NodeId, int> Capacities(SliceMap map, List<NodeId> candidates, int total)
    {
        var held = candidates.ToDictionary(n => n, n => map.Slices.Count(s => s.IsHeldBy(n)));
        int baseCapacity = total / candidates.Count;
        var extra = candidates.OrderByDescending(n => held[n]).ThenBy(n => n).Take(total % candidates.Count).ToHashSet();
        return candidates.ToDictionary(n => n, n => baseCapacity + (extra.Contains(n) ? 1 : 0));
    }

    // Keep the current primary unless it holds more than its share of primaries and an in-sync
    // replica of the target holds fewer; a primary can only hand over to an in-sync replica.
    private static ImmutableArray<PlacementTarget> ChoosePrimaries(SliceMap map, List<NodeId>[] sets, List<NodeId> candidates)
    {
        int share = (int)Math.Ceiling(map.Count / (double)candidates.Count);
        var primaries = candidates.ToDictionary(n => n, _ => 0);
        var targets = new PlacementTarget[map.Count];
        var pending = new List<int>();
        for (int i = 0; i < map.Count; i++)
        {
            if (map.Slices[i].Primary is { } current && sets[i].Contains(current) && primaries[current] < share)
            {
                primaries[current]++;
                targets[i] = Target(sets[i], current);
            }
            else
            {
                pending.Add(i);
            }
        }

        foreach (int i in pending)
        {
            PieSlice slice = map.Slices[i];
            NodeId pick = sets[i].Count == 0 ? slice.Primary ?? default
                : sets[i].OrderBy(n => slice.IsInSync(n) ? 0 : 1).ThenBy(n => primaries[n]).ThenBy(n => n).First();
            if (primaries.TryGetValue(pick, out int count))
            {
                primaries[pick] = count + 1;
            }

            targets[i] = Target(sets[i], pick);
        }

        return [.. targets];
    }

    private static PlacementTarget Target(List<NodeId> set, NodeId primary) =>
        new([primary, .. set.Where(n => n != primary)], primary);
}
