using System.Diagnostics;
using System.Text;
using SmdSs.Model;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Dashboard;

/// <summary>
/// GetClusterStatsAsync: every node answers NodeStats with its own figures, which add up
/// (three copies of each key, the slice map's counts); a node that is gone is listed as unknown.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class ClusterStatsTests
{
    private const int Keys = 90;

    [Fact]
    public async Task Three_nodes_report_three_copies_of_every_key_and_the_slice_maps_counts()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();
        for (int i = 0; i < Keys; i++)
        {
            await cluster.Node(i % 3).SetAsync("stats:" + i, Encoding.UTF8.GetBytes("value" + i));
        }

        SmdSsStatus status = cluster.Node(0).GetStatus();
        IReadOnlyList<SmdSsNodeStats> stats = [];
        await Eventually.TrueAsync(
            async () =>
            {
                stats = await cluster.Node(0).GetClusterStatsAsync();
                return stats.Count == 3 && stats.All(s => s.Reachable) && stats.Sum(s => s.Keys) == 3 * Keys;
            },
            TimeSpan.FromSeconds(15),
            "3 reachable nodes holding 3 copies of every key");

        Assert.Equal(status.Nodes.Select(n => n.Id).Order(), stats.Select(s => s.Id).Order());
        Assert.Equal(status.NodeId, Assert.Single(stats, s => s.IsSelf).Id);
        Assert.Equal(Keys, stats.Sum(s => s.PrimaryKeys));
        Assert.All(stats, s =>
        {
            Assert.Equal("Up", s.State);
            Assert.Equal(Keys, s.Keys); // 3 nodes, 3 replicas: each node holds every key
            Assert.Equal(status.Slices.Count(x => x.Replicas[0] == s.Id), s.PrimarySlices);
            Assert.Equal(status.Slices.Count(x => x.Replicas.Skip(1).Contains(s.Id)), s.ReplicaSlices);
            Assert.Equal(status.SliceMapDigest, s.SliceMapDigest);
            Assert.True(s.DiskBytes > 0 && s.MemoryBytes > 0 && s.MonotonicMs is not null && s.Starts is not null);
        });
        Assert.Equal(status.Slices.Count, stats.Sum(s => s.PrimarySlices));
        Assert.Equal(status.Slices.Count * 2, stats.Sum(s => s.ReplicaSlices));
        // Each node's API served the writes made on it; forwarded work is counted where it was asked.
        Assert.All(stats, s => Assert.Equal(Keys / 3, s.Operations));
    }

    [Fact]
    public async Task The_operations_counter_counts_each_read_and_write_of_the_nodes_api_once()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(2);
        await cluster.WaitSettledAsync(replicationFactor: 2);
        long before0 = await OperationsAsync(cluster.Node(0));
        long before1 = await OperationsAsync(cluster.Node(1));

        await Parallel.ForAsync(0, 200, async (i, ct) =>
        {
            await cluster.Node(0).SetAsync("ops:" + i, new byte[] { 1 }, cancellationToken: ct);
            await cluster.Node(0).GetAsync("ops:" + i, ct);
            await cluster.Node(0).RefreshAsync("ops:" + i, ct);
            await cluster.Node(0).RemoveAsync("ops:" + i, ct);
        });

        Assert.Equal(before0 + 800, await OperationsAsync(cluster.Node(0)));
        Assert.Equal(before1, await OperationsAsync(cluster.Node(1)));
    }

    [Fact]
    public async Task A_stopped_node_and_a_crashed_node_are_listed_as_unreachable()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(4);
        await cluster.WaitSettledAsync();
        string stopped = cluster.Node(2).NodeId!;
        string crashed = cluster.Node(3).NodeId!;

        await cluster.StopNodeAsync(2); // says goodbye: Down at once, not even asked
        await cluster.CrashNodeAsync(3); // silent: asked, and no answer within the second
        var watch = Stopwatch.StartNew();
        IReadOnlyList<SmdSsNodeStats> stats = await cluster.Node(0).GetClusterStatsAsync();
        watch.Stop();

        Assert.Equal(4, stats.Count);
        foreach (string gone in new[] { stopped, crashed })
        {
            SmdSsNodeStats node = Assert.Single(stats, s => s.Id == gone);
            Assert.False(node.Reachable);
            Assert.Null(node.Keys);
            Assert.Null(node.Operations);
            Assert.Null(node.PrimarySlices);
            Assert.Null(node.SliceMapDigest);
        }

        Assert.Equal("Down", Assert.Single(stats, s => s.Id == stopped).State);
        Assert.All(stats.Where(s => s.Id != stopped && s.Id != crashed), s => Assert.True(s.Reachable));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}: a silent node must cost about a second");
    }

    private static async Task<long> OperationsAsync(SmdSsNode node) =>
        (await node.GetClusterStatsAsync()).Single(s => s.IsSelf).Operations!.Value;
}
