using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Cluster;

/// <summary>Crashes (no goodbye) and sliding expiration across replicas, in in-process clusters.</summary>
[Collection(ClusterTestGroup.Name)]
public sealed class ClusterFailureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_crashed_node_is_detected_writes_go_on_and_its_slices_get_new_replicas_after_the_grace_period()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(4, o => o.ReplacementGracePeriod = TimeSpan.FromSeconds(2));
        await cluster.WaitSettledAsync();
        for (int i = 0; i < 200; i++)
        {
            await cluster.Cache(i % 4).SetAsync("k" + i, Encoding.UTF8.GetBytes("v" + i), new DistributedCacheEntryOptions());
        }

        string victim = cluster.Node(3).NodeId!;
        await cluster.CrashNodeAsync(3);
        DateTime crashed = DateTime.UtcNow;
        Task<TimeSpan> detection = Task.Run(async () =>
        {
            await Eventually.TrueAsync(() => cluster.Node(0).GetStatus().Nodes.Single(n => n.Id == victim).State == "Down", TimeSpan.FromSeconds(10), "crash detected");
            return DateTime.UtcNow - crashed;
        });
        for (int i = 200; i < 300; i++)
        {
            await cluster.Cache(i % 3).SetAsync("k" + i, Encoding.UTF8.GetBytes("v" + i), new DistributedCacheEntryOptions());
        }

        output.WriteLine($"100 writes right after the crash took {(DateTime.UtcNow - crashed).TotalMilliseconds:0} ms");
        output.WriteLine($"detected Down after {(await detection).TotalMilliseconds:0} ms");

        await cluster.WaitSettledAsync(TimeSpan.FromSeconds(40));
        output.WriteLine($"3 in-sync replicas everywhere again after {(DateTime.UtcNow - crashed).TotalMilliseconds:0} ms");
        Assert.DoesNotContain(cluster.Node(0).GetStatus().Slices, s => s.Replicas.Contains(victim));
        for (int node = 0; node < 3; node++)
        {
            for (int i = 0; i < 300; i++)
            {
                Assert.Equal("v" + i, Encoding.UTF8.GetString(await cluster.Cache(node).GetAsync("k" + i) ?? []));
            }
        }
    }

    [Fact]
    public async Task A_sliding_extension_made_by_a_read_on_one_replica_reaches_the_others()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();
        await cluster.Cache(0).SetAsync("session", [1, 2, 3], new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(1) });
        uint hash = KeyHash.Of("session");
        SliceMap map = cluster.Node(0).SliceMap!;
        string primary = map.Find(hash).Primary!.Value.ToString();
        int reader = Enumerable.Range(0, 3).First(i => cluster.Node(i).NodeId != primary);

        long DeadlineOn(int node) =>
            cluster.Node(node).Store!.SliceFor(hash).TryGet("session", out StoredEntry? entry) ? entry.DeadlineMs : 0;

        long before = DeadlineOn(reader);
        await Eventually.TrueAsync(() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > before - 60_000 + 50, TimeSpan.FromSeconds(5), "time moved on");
        Assert.NotNull(await cluster.Cache(reader).GetAsync("session"));
        // The read slid the window where it was served (the reader's own copy when it holds a
        // lease, else the primary's); within about a second every replica has the new deadline.
        long extended = Enumerable.Range(0, 3).Max(DeadlineOn);
        Assert.True(extended > before, "the read slid the window on the replica that served it");

        await Eventually.TrueAsync(() => Enumerable.Range(0, 3).All(i => DeadlineOn(i) >= extended), TimeSpan.FromSeconds(3), "the extension reached every replica");
    }
}
