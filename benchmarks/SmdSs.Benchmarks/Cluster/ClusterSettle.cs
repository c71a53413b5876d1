using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// Waits until the cluster has settled: every node (the WebFarm processes through
/// GET /smdss/status, the embedded node through GetStatus) reports the same node map and slice
/// map digests, the node map holds every node Up, every slice has its full replica set in sync,
/// and the slice map has not changed for <see cref="StableFor"/>. The last condition matters: a
/// node that just joined holds nothing yet while all the others are already true, and the
/// placement moves slices to it only afterwards. Whether the replicas ended up evenly spread is
/// the caller's to judge (<see cref="IsBalanced"/>).
/// </summary>
internal static class ClusterSettle
{
    /// <summary>Ten placement rounds (every 500 ms) without a move.</summary>
    private static readonly TimeSpan StableFor = TimeSpan.FromSeconds(5);

    /// <summary>The embedded node's status once settled.</summary>
    /// <exception cref="TimeoutException">Not settled in time; the message shows what each node reported.</exception>
    public static async Task<SmdSsStatus> WaitAsync(FarmProcesses farm, SmdSsNode embedded, int replicationFactor, TimeSpan timeout, CancellationToken cancellationToken) =>
        await WaitAsync(
            async token => [embedded.GetStatus(), .. await Task.WhenAll(farm.Processes.Select(p => p.TryGetStatusAsync(token))).ConfigureAwait(false)],
            farm.Processes.Count + 1,
            replicationFactor,
            timeout,
            cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The first node's status once the statuses <paramref name="poll"/> returns (one per node,
    /// null for a node that did not answer) show a settled cluster of <paramref name="nodes"/>.
    /// </summary>
    /// <exception cref="TimeoutException">Not settled in time; the message shows what each node reported.</exception>
    public static async Task<SmdSsStatus> WaitAsync(Func<CancellationToken, Task<IReadOnlyList<SmdSsStatus?>>> poll, int nodes, int replicationFactor, TimeSpan timeout, CancellationToken cancellationToken)
    {
        int want = Math.Min(replicationFactor, nodes);
        IReadOnlyList<SmdSsStatus?> last = [];
        string? stableDigest = null;
        long stableSince = 0;
        try
        {
            await Poll.UntilAsync(async () =>
            {
                last = await poll(cancellationToken).ConfigureAwait(false);
                if (!IsSettled(last, nodes, want))
                {
                    stableDigest = null;
                    return false;
                }

                if (stableDigest != last[0]!.SliceMapDigest)
                {
                    (stableDigest, stableSince) = (last[0]!.SliceMapDigest, Stopwatch.GetTimestamp());
                }

                return Stopwatch.GetElapsedTime(stableSince) >= StableFor;
            }, timeout, "cluster settled", cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}{Environment.NewLine}{Describe(last, want)}", ex);
        }

        return last[0]!;
    }

    public static bool IsSettled(IReadOnlyList<SmdSsStatus?> statuses, int nodes, int replicas)
    {
        if (statuses.Count != nodes || statuses.Any(s => s is null))
        {
            return false;
        }

        SmdSsStatus first = statuses[0]!;
        return statuses.All(s => s!.NodeMapDigest == first.NodeMapDigest && s.SliceMapDigest == first.SliceMapDigest)
            && first.Nodes.Count == nodes
            && first.Nodes.All(n => n.State == "Up")
            && first.Slices.All(s => s.Replicas.Count == replicas && s.InSync.Count == replicas && s.Replicas.All(s.InSync.Contains));
    }

    /// <summary>Every node holds ⌊slices × replicas / nodes⌋ or ⌈slices × replicas / nodes⌉ slices in sync, as the placement planner aims for.</summary>
    public static bool IsBalanced(SmdSsStatus status, int nodes, int replicas)
    {
        int total = status.Slices.Count * replicas;
        int low = total / nodes;
        int high = low + (total % nodes == 0 ? 0 : 1);
        return status.Nodes.All(n => status.Slices.Count(s => s.InSync.Contains(n.Id)) is var held && held >= low && held <= high);
    }

    /// <summary>"id:slices" for each node, the id cut to 4 hex digits.</summary>
    public static string HeldPerNode(SmdSsStatus status) =>
        string.Join(", ", status.Nodes.Select(n => n.Id[..4] + ":" + status.Slices.Count(s => s.InSync.Contains(n.Id)).ToString(CultureInfo.InvariantCulture)));

    /// <summary>One line per node: digests, node states, and how many slices lack a full in-sync set.</summary>
    public static string Describe(IReadOnlyList<SmdSsStatus?> statuses, int replicas)
    {
        var text = new StringBuilder("Last status of each node (the first is the one reported):").AppendLine();
        foreach (SmdSsStatus? status in statuses)
        {
            if (status is null)
            {
                text.AppendLine("  (no answer)");
                continue;
            }

            string states = string.Join(", ", status.Nodes.Select(n => n.Id + "@" + n.Endpoint + "=" + n.State));
            int lacking = status.Slices.Count(s => s.InSync.Count < replicas || s.Replicas.Count < replicas);
            string held = HeldPerNode(status);
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"  {status.NodeId} at {status.Endpoint}: nodes {status.NodeMapDigest[..8]}, slices {status.SliceMapDigest[..8]}, {status.Slices.Count} slices ({lacking} without {replicas} in sync; in-sync slices per node {held}); node map: {states}"));
        }

        return text.ToString();
    }
}
