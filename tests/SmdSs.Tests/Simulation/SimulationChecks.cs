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

    // A write that failed may have reached only some replicas: anti-entropy makes them agree
    // within a few of its rounds. An acknowledged write that is missing never comes back.
    private static readonly TimeSpan AgreeBound = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Every key read from every running node holds a value the model allows, the same on every
    /// node (once anti-entropy has repaired what failed writes left behind, within a bound).
    /// </summary>
    public static async Task AssertModelAsync(InProcessCluster cluster, WriteModel model, SliceHistory history)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            (string? problem, bool final) = await FindProblemAsync(cluster, model, history);
            if (problem is null)
            {
                return;
            }

            if (final || waited.Elapsed > AgreeBound)
            {
                throw new InvalidOperationException(problem);
            }

            await Task.Delay(200);
        }
    }

    /// <summary>
    /// Every counter, read from every running node, counts every acknowledged increment and none
    /// twice: acknowledged &lt;= value &lt;= acknowledged + failed (a failed increment may or may not
    /// have been applied), the same on every node (within the anti-entropy bound). Returns a summary.
    /// </summary>
    public static async Task<string> AssertCountersAsync(InProcessCluster cluster, Workload workload)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var summary = new StringBuilder();
            string? disagreement = null;
            for (int c = 0; c < Workload.Counters.Length; c++)
            {
                (long acknowledged, long failed) = workload.CounterBounds(c);
                var values = new List<long>();
                foreach (int node in cluster.Running)
                {
                    string? text = await cluster.Node(node).GetStringAsync(Workload.Counters[c]);
                    long value = text is null ? 0 : long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
                    if (value < acknowledged || value > acknowledged + failed)
                    {
                        throw new InvalidOperationException($"node {node}: {Workload.Counters[c]} is {value}; {acknowledged} acknowledged and {failed} failed increments allow {acknowledged}..{acknowledged + failed}");
                    }

                    values.Add(value);
                }

                if (values.Distinct().Count() > 1)
                {
                    disagreement ??= $"{Workload.Counters[c]} differs between nodes: {string.Join(", ", values)}";
                }

                summary.Append(System.Globalization.CultureInfo.InvariantCulture, $"{Workload.Counters[c]} {values[0]} ({acknowledged} acknowledged + {failed} failed) ");
            }

            if (disagreement is null)
            {
                return summary.ToString().TrimEnd();
            }

            if (waited.Elapsed > AgreeBound)
            {
                throw new InvalidOperationException(disagreement);
            }

            await Task.Delay(200);
        }
    }

    // The first key that breaks the model (final: an acknowledged write is lost) or on which nodes disagree.
    private static async Task<(string? Problem, bool Final)> FindProblemAsync(InProcessCluster cluster, WriteModel model, SliceHistory history)
    {
        string? disagreement = null;
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
                    return ($"node {node}: {key} is {WriteModel.Show(actual)}, expected {string.Join(" or ", possible.Select(WriteModel.Show))} (an acknowledged write lost)\n{Explain(cluster, model, history, key)}", true);
                }

                if (firstNode is null)
                {
                    (first, firstNode) = (actual, node);
                }
                else if (first != actual && disagreement is null)
                {
                    disagreement = $"{key} is {WriteModel.Show(first)} on node {firstNode} but {WriteModel.Show(actual)} on node {node} (replicas disagree after {AgreeBound.TotalSeconds:0} s of anti-entropy)\n{Explain(cluster, model, history, key)}";
                }
            }
        }

        return (disagreement, false);
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
