using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Hashing;
using SmdSs.Storage;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Simulation;

/// <summary>The invariants checked once the faults have stopped and the cluster has settled.</summary>
internal static class SimulationChecks
{
    /// <summary>True when every running node has the same node-map and slice-map digests.</summary>
    public static bool DigestsEqual(InProcessCluster cluster)
    {
        List<SmdSsStatus> statuses = [.. cluster.Running.Select(i => cluster.Node(i).GetStatus())];
        return statuses.Select(s => s.NodeMapDigest).Distinct().Count() == 1 && statuses.Select(s => s.SliceMapDigest).Distinct().Count() == 1;
    }

    /// <summary>Writes succeed through every running node again; the writes join the model.</summary>
    public static async Task WriteThroughEveryNodeAsync(InProcessCluster cluster, WriteModel model, string tag)
    {
        foreach (int node in cluster.Running)
        {
            string key = $"probe-{tag}-n{node}";
            string value = key + "#1";
            try
            {
                await cluster.Cache(node).SetAsync(key, Encoding.UTF8.GetBytes(value), new DistributedCacheEntryOptions());
            }
            catch (SmdSsUnavailableException ex)
            {
                throw new InvalidOperationException($"A write through node {node} failed after the cluster settled:\n{cluster.Describe()}", ex);
            }

            model.Acknowledged(key, value, node);
        }
    }

    /// <summary>Every key read from every running node holds a value the model allows, the same on every node.</summary>
    public static async Task AssertModelAsync(InProcessCluster cluster, WriteModel model, SliceHistory history)
    {
        foreach (string key in model.Keys)
        {
            IReadOnlySet<string?> possible = model.Possible(key);
            string? first = null;
            int? firstNode = null;
            foreach (int node in cluster.Running)
            {
                byte[]? bytes;
                try
                {
                    bytes = await cluster.Cache(node).GetAsync(key);
                }
                catch (SmdSsUnavailableException ex)
                {
                    throw new InvalidOperationException($"node {node}: reading {key} failed after the cluster settled\n{Explain(cluster, model, history, key)}", ex);
                }

                string? actual = bytes is null ? null : Encoding.UTF8.GetString(bytes);
                if (!possible.Contains(actual))
                {
                    throw new InvalidOperationException(
                        $"node {node}: {key} is {WriteModel.Show(actual)}, expected {string.Join(" or ", possible.Select(WriteModel.Show))} (an acknowledged write lost)\n{Explain(cluster, model, history, key)}");
                }

                if (firstNode is null)
                {
                    (first, firstNode) = (actual, node);
                }
                else if (first != actual)
                {
                    throw new InvalidOperationException(
                        $"{key} is {WriteModel.Show(first)} on node {firstNode} but {WriteModel.Show(actual)} on node {node} (replicas disagree)\n{Explain(cluster, model, history, key)}");
                }
            }
        }
    }

    /// <summary>The key's history and what each node holds of it, for a failure message.</summary>
    public static string Explain(InProcessCluster cluster, WriteModel model, SliceHistory history, string key)
    {
        uint hash = KeyHash.Of(key);
        var text = new StringBuilder($"key {key} (hash {hash:x8}) history:\n{model.History(key)}\nits slice's record as each node saw it:\n{history.Of(hash)}\nheld:\n");
        foreach (int node in cluster.Running)
        {
            SmdSsNode smd = cluster.Node(node);
            SliceStore slice = smd.Store!.SliceFor(hash);
            string held = slice.TryGet(key, out StoredEntry? entry)
                ? $"v{entry.Version:x} {(entry.ValueInMemory is { } v ? Encoding.UTF8.GetString(v) : "(evicted)")}"
                : "(none)";
            text.AppendLine($"  node {node} {smd.NodeId}: slice {slice.Range} {held}");
        }

        return text.Append(cluster.Describe()).ToString();
    }
}
