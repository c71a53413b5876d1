using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Model;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Cluster;

/// <summary>Joins, goodbyes, restarts and decommissions of in-process clusters, with data checked on every node.</summary>
[Collection(ClusterTestGroup.Name)]
public sealed class ClusterMembershipTests(ITestOutputHelper output)
{
    private static readonly DistributedCacheEntryOptions NoExpiry = new();

    [Fact]
    public async Task Five_nodes_settle_with_replicas_and_primaries_spread_within_20_percent_of_the_mean()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(5);
        await cluster.WaitSettledAsync();

        SmdSsStatus status = cluster.Node(0).GetStatus();
        var replicas = status.Slices.SelectMany(s => s.Replicas).GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
        var primaries = status.Slices.GroupBy(s => s.Replicas[0]).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine("replicas per node: " + string.Join(", ", replicas.Values));
        output.WriteLine("primaries per node: " + string.Join(", ", primaries.Values));

        Assert.Equal(5, replicas.Count);
        double mean = 16.0 * 3 / 5;
        Assert.All(replicas.Values, count => Assert.InRange(count, mean * 0.8, mean * 1.2));
        Assert.All(primaries.Values, count => Assert.InRange(count, 3, 4));
        Assert.All(status.Slices, s => Assert.Equal(3, s.Replicas.Distinct().Count()));
    }

    [Fact]
    public async Task A_write_on_any_node_is_read_at_once_on_every_node()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();

        for (int round = 0; round < 30; round++)
        {
            int writer = round % 3;
            string value = "v" + round;
            await cluster.Cache(writer).SetAsync("hot", Encoding.UTF8.GetBytes(value), NoExpiry);
            for (int reader = 0; reader < 3; reader++)
            {
                Assert.Equal(value, Encoding.UTF8.GetString(await cluster.Cache(reader).GetAsync("hot") ?? []));
            }
        }

        await cluster.Cache(1).RemoveAsync("hot");
        for (int reader = 0; reader < 3; reader++)
        {
            Assert.Null(await cluster.Cache(reader).GetAsync("hot"));
        }
    }

    [Fact]
    public async Task Joining_nodes_receive_their_share_and_no_key_is_missed_during_the_move()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();
        await WriteAsync(cluster, 0, 400);

        await cluster.AddNodeAsync();
        await cluster.AddNodeAsync();
        // Keep writing and reading while the slices move.
        DateTime until = DateTime.UtcNow.AddSeconds(2);
        int next = 400;
        while (DateTime.UtcNow < until)
        {
            await WriteAsync(cluster, next, 20);
            await AssertReadableEverywhereAsync(cluster, next, 20);
            next += 20;
        }

        await cluster.WaitSettledAsync();
        await AssertReadableEverywhereAsync(cluster, 0, next);
        SmdSsStatus status = cluster.Node(4).GetStatus();
        var replicas = status.Slices.SelectMany(s => s.Replicas).GroupBy(id => id).Select(g => g.Count()).ToList();
        output.WriteLine("replicas per node after the joins: " + string.Join(", ", replicas));
        Assert.Equal(5, replicas.Count);
        Assert.All(replicas, count => Assert.InRange(count, 16.0 * 3 / 5 * 0.8, 16.0 * 3 / 5 * 1.2));
        Assert.Contains(status.Slices, s => s.Replicas.Contains(status.NodeId));
        Assert.True(status.Slices.Where(s => s.InSync.Contains(status.NodeId)).Sum(s => s.LocalEntries) > 0);
    }

    [Fact]
    public async Task A_stopped_node_says_goodbye_writes_go_on_and_it_catches_up_when_it_returns()
    {
        var log = new RecentLog(Stopwatch.StartNew());
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3, null, null, log.For);
        await cluster.WaitSettledAsync();
        await WriteAsync(cluster, 0, 200);

        await cluster.StopNodeAsync(2);
        DateTime started = DateTime.UtcNow;
        List<(string Key, double Ms)> slowest = await TimedWriteAsync(cluster, 200, 200);
        output.WriteLine($"200 writes with one node stopped took {(DateTime.UtcNow - started).TotalMilliseconds:0} ms; slowest: {string.Join(", ", slowest.Take(5).Select(w => $"{w.Key} {w.Ms:0} ms"))}");
        if (DateTime.UtcNow - started >= TimeSpan.FromSeconds(5))
        {
            output.WriteLine(string.Join(Environment.NewLine, log.Tail(300)));
        }

        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "writes must not wait on the stopped node");
        await AssertReadableEverywhereAsync(cluster, 0, 400);

        await cluster.StartNodeAsync(2);
        await cluster.WaitSettledAsync();
        await AssertReadableEverywhereAsync(cluster, 0, 400);
        SmdSsStatus status = cluster.Node(2).GetStatus();
        Assert.True(status.Slices.Where(s => s.InSync.Contains(status.NodeId)).Sum(s => s.LocalEntries) > 0);
    }

    [Fact]
    public async Task A_decommissioned_node_hands_over_every_slice_and_nothing_is_lost()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(4);
        await cluster.WaitSettledAsync();
        await WriteAsync(cluster, 0, 300);
        string leaving = cluster.Node(3).GetStatus().NodeId;

        await cluster.Node(3).DecommissionAsync(TimeSpan.FromSeconds(30));
        await cluster.StopNodeAsync(3);

        await cluster.WaitSettledAsync();
        SmdSsStatus status = cluster.Node(0).GetStatus();
        Assert.DoesNotContain(status.Slices, s => s.Replicas.Contains(leaving));
        Assert.Equal("Left", status.Nodes.Single(n => n.Id == leaving).State);
        await AssertReadableEverywhereAsync(cluster, 0, 300);
    }

    [Fact]
    public async Task Nodes_gone_past_the_retention_are_forgotten_and_a_node_back_from_longer_away_does_not_bring_them_back()
    {
        var clock = new ShiftedClock();
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(0, o =>
        {
            o.NodeRetention = TimeSpan.FromMinutes(1);
            o.ReplacementGracePeriod = TimeSpan.FromSeconds(1);
        });
        cluster.Time = clock;
        for (int i = 0; i < 3; i++)
        {
            await cluster.AddNodeAsync();
        }

        await cluster.WaitSettledAsync();
        await WriteAsync(cluster, 0, 100);
        string away = cluster.Node(0).GetStatus().NodeId;
        string leaving = cluster.Node(2).GetStatus().NodeId;

        // Node 0 stops; while it is away node 2 leaves for good. Node 0's saved map still has node 2 Up.
        await cluster.StopNodeAsync(0);
        await cluster.WaitSettledAsync();
        await cluster.Node(2).DecommissionAsync(TimeSpan.FromSeconds(30));
        await cluster.StopNodeAsync(2);

        // Two minutes later by the wall clock: node 1 forgets both (node 0 down, node 2 left).
        clock.Shift(TimeSpan.FromMinutes(2));
        await Eventually.TrueAsync(() => cluster.Node(1).GetStatus().Nodes.Count == 1, TimeSpan.FromSeconds(20), "node 1 forgot the nodes gone past the retention");

        // Node 0 comes back with no friend configured: it passes on nothing it remembered and
        // finds the cluster through the endpoints it remembered.
        cluster.ConfigureNode = (index, o) => o.Friends.Clear();
        await cluster.StartNodeAsync(0);
        await cluster.WaitSettledAsync();
        Assert.Contains(cluster.Node(1).GetStatus().Nodes, n => n.Id == away && n.State == "Up");
        foreach (int node in cluster.Running)
        {
            Assert.DoesNotContain(cluster.Node(node).GetStatus().Nodes, n => n.Id == leaving);
            Assert.Equal(2, cluster.Node(node).GetStatus().Nodes.Count);
        }

        await AssertReadableEverywhereAsync(cluster, 0, 100);
    }

    private static async Task WriteAsync(InProcessCluster cluster, int from, int count)
    {
        List<int> running = [.. cluster.Running];
        for (int i = from; i < from + count; i++)
        {
            await cluster.Cache(running[i % running.Count]).SetAsync("k" + i, Encoding.UTF8.GetBytes("v" + i), NoExpiry);
        }
    }

    private static async Task<List<(string Key, double Ms)>> TimedWriteAsync(InProcessCluster cluster, int from, int count)
    {
        List<int> running = [.. cluster.Running];
        var times = new List<(string, double)>();
        for (int i = from; i < from + count; i++)
        {
            long began = Stopwatch.GetTimestamp();
            await cluster.Cache(running[i % running.Count]).SetAsync("k" + i, Encoding.UTF8.GetBytes("v" + i), NoExpiry);
            times.Add(($"k{i}@{running[i % running.Count]}", Stopwatch.GetElapsedTime(began).TotalMilliseconds));
        }

        return [.. times.OrderByDescending(t => t.Item2)];
    }

    private static async Task AssertReadableEverywhereAsync(InProcessCluster cluster, int from, int count)
    {
        foreach (int node in cluster.Running)
        {
            for (int i = from; i < from + count; i++)
            {
                byte[]? value = await cluster.Cache(node).GetAsync("k" + i);
                Assert.True(value is not null, $"k{i} missing on node {node}");
                Assert.Equal("v" + i, Encoding.UTF8.GetString(value));
            }
        }
    }
}
