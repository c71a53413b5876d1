using System.Collections.Immutable;
using SmdSs.Model;

namespace SmdSs.Placement;

/// <summary>
/// The deterministic placement target: slices × RF replicas spread evenly over the candidate
/// nodes (each holds ⌊total/n⌋ or ⌈total/n⌉), primaries spread evenly too, with as few moves as
/// possible from the current map. Pure: every node computes the same target from the same maps,
/// and each primary moves only its own slices toward it.
/// </summary>
/// <remarks>
/// The target must not move while a move toward it is under way, or primaries chase it forever.
/// So it is computed from what is settled: the in-sync replicas (a replica still catching up
/// counts only to fill a hole), capacities that depend on the candidate set alone, and trims
/// that always pick the same slice (the last one, in hash order, that lists the node).
/// </remarks>
internal static class PlacementPlanner
{
    /// <param name="map">The current slice map.</param>
    /// <param name="eligible">Nodes that may receive new replicas (Up).</param>
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
        Dictionary<NodeId, int> capacity = Capacities(candidates, map.Count * rf);
        List<NodeId>[] sets = [.. map.Slices.Select(s => Kept(s, keepable, capacity, rf))];
        var counts = candidates.ToDictionary(n => n, n => sets.Count(set => set.Contains(n)));
        Trim(map, sets, counts, capacity, eligible);
        Fill(map, sets, counts, capacity, eligible, rf);
        return ChoosePrimaries(map, sets, candidates);
    }

    // ⌊total/n⌋ each; the remainder goes to the lowest ids. A function of the candidates alone.
    private static Dictionary<NodeId, int> Capacities(List<NodeId> candidates, int total)
    {
        int baseCapacity = total / candidates.Count;
        int extra = total % candidates.Count;
        return candidates.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => baseCapacity + (p.i < extra ? 1 : 0));
    }

    // What a slice keeps before balancing: its in-sync keepable replicas in list order (primary
    // first), then replicas still catching up, up to rf.
    private static List<NodeId> Kept(PieSlice slice, IReadOnlySet<NodeId> keepable, Dictionary<NodeId, int> capacity, int rf) =>
        [.. slice.Replicas.Where(n => keepable.Contains(n) && capacity.ContainsKey(n))
            .OrderBy(n => slice.IsInSync(n) ? 0 : 1)
            .Take(rf)];

    // A node over its capacity hands its last slices (in hash order; preferring slices it is not
    // primary of) to the least loaded eligible node under capacity that the slice lacks.
    private static void Trim(SliceMap map, List<NodeId>[] sets, Dictionary<NodeId, int> counts, Dictionary<NodeId, int> capacity, IReadOnlyCollection<NodeId> eligible)
    {
        foreach (NodeId node in counts.Keys.Order().ToList())
        {
            for (int pass = 0; pass < 2 && counts[node] > capacity[node]; pass++)
            {
                for (int i = map.Count - 1; i >= 0 && counts[node] > capacity[node]; i--)
                {
                    bool isPrimary = map.Slices[i].Primary == node;
                    if (!sets[i].Contains(node) || (pass == 0 && isPrimary))
                    {
                        continue;
                    }

                    NodeId? taker = eligible.Where(n => !sets[i].Contains(n) && counts.TryGetValue(n, out int c) && c < capacity[n])
                        .OrderBy(n => counts[n]).ThenBy(n => n).Select(n => (NodeId?)n).FirstOrDefault();
                    if (taker is { } chosen)
                    {
                        sets[i][sets[i].IndexOf(node)] = chosen;
                        counts[node]--;
                        counts[chosen]++;
                    }
                }
            }

            // With nobody to take them, replicas stay where they are: a slice keeps rf copies.
        }
    }

    // Every slice is filled up to rf: first from replicas it already lists (a move under way),
    // then from the least loaded eligible nodes under capacity.
    private static void Fill(SliceMap map, List<NodeId>[] sets, Dictionary<NodeId, int> counts, Dictionary<NodeId, int> capacity, IReadOnlyCollection<NodeId> eligible, int rf)
    {
        for (int i = 0; i < map.Count; i++)
        {
            PieSlice slice = map.Slices[i];
            while (sets[i].Count < rf)
            {
                NodeId? pick = eligible.Where(n => !sets[i].Contains(n) && counts.ContainsKey(n))
                    .OrderBy(n => counts[n] >= capacity[n] ? 1 : 0)
                    .ThenBy(n => slice.IsHeldBy(n) ? 0 : 1)
                    .ThenBy(n => counts[n])
                    .ThenBy(n => n)
                    .Select(n => (NodeId?)n).FirstOrDefault();
                if (pick is not { } chosen)
                {
                    break;
                }

                sets[i].Add(chosen);
                counts[chosen]++;
            }
        }
    }

    // Keep each current primary that stays a replica; then, while a node holds two primaries
    // more than another replica of one of its slices, its last such slice moves there.
    private static ImmutableArray<PlacementTarget> ChoosePrimaries(SliceMap map, List<NodeId>[] sets, List<NodeId> candidates)
    {
        int share = (int)Math.Ceiling(map.Count / (double)candidates.Count);
        var primary = new NodeId[map.Count];
        for (int i = 0; i < map.Count; i++)
        {
            PieSlice slice = map.Slices[i];
            primary[i] = slice.Primary is { } current && sets[i].Contains(current)
                ? current
                : sets[i].OrderBy(n => slice.IsInSync(n) ? 0 : 1).ThenBy(n => n).FirstOrDefault(slice.Primary ?? default);
        }

        var counts = candidates.ToDictionary(n => n, n => primary.Count(p => p == n));
        // Each move goes from a node to one with at least two fewer primaries, so the loop ends.
        for (int moves = 0; moves < map.Count * 2; moves++)
        {
            bool moved = false;
            for (int i = map.Count - 1; i >= 0 && !moved; i--)
            {
                NodeId current = primary[i];
                if (!counts.TryGetValue(current, out int held) || held <= share - 1)
                {
                    continue;
                }

                PieSlice slice = map.Slices[i];
                NodeId? better = sets[i].Where(n => n != current && slice.IsInSync(n) && counts.TryGetValue(n, out int c) && c + 1 < held)
                    .OrderBy(n => counts[n]).ThenBy(n => n).Select(n => (NodeId?)n).FirstOrDefault();
                if (better is { } chosen)
                {
                    primary[i] = chosen;
                    counts[current]--;
                    counts[chosen]++;
                    moved = true;
                }
            }

            if (!moved)
            {
                break;
            }
        }

        return [.. Enumerable.Range(0, map.Count).Select(i => new PlacementTarget([primary[i], .. sets[i].Where(n => n != primary[i])], primary[i]))];
    }
}
