using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Cluster;

/// <summary>A read of a key whose slice this node holds in sync is answered from memory, with no network.</summary>
[Collection(ClusterTestGroup.Name)]
public sealed class LocalReadTests
{
    [Fact]
    public async Task Reads_of_in_sync_slices_are_local_and_reads_of_other_slices_go_to_the_primary()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(4);
        await cluster.WaitSettledAsync();
        for (int i = 0; i < 200; i++)
        {
            await cluster.Cache(i % 4).SetAsync("k" + i, Encoding.UTF8.GetBytes("v" + i), new DistributedCacheEntryOptions());
        }

        SmdSsNode reader = cluster.Node(3);
        using var reads = new MetricCollector<long>(cluster.Services(3).GetRequiredService<IMeterFactory>(), "SmdSs", "smdss.reads");
        long Served(string where) => reads.GetMeasurementSnapshot().Where(m => (string?)m.Tags["smdss.read.served"] == where).Sum(m => m.Value);
        SliceMap map = reader.SliceMap!;
        string self = reader.NodeId!;
        var local = Enumerable.Range(0, 200).Where(i => map.Find(KeyHash.Of("k" + i)).InSync.Any(n => n.ToString() == self)).ToList();
        var remote = Enumerable.Range(0, 200).Except(local).ToList();
        Assert.NotEmpty(local);
        Assert.NotEmpty(remote);

        // Replicas renew their read leases every half second; wait until this one holds them.
        await Eventually.TrueAsync(() =>
        {
            long before = Served("forwarded");
            foreach (int i in local)
            {
                reader.GetAsync("k" + i).AsTask().GetAwaiter().GetResult();
            }

            return Served("forwarded") == before;
        }, TimeSpan.FromSeconds(10), "every in-sync slice readable locally");

        long forwarded = Served("forwarded");
        long localReads = Served("local");
        foreach (int i in local)
        {
            Assert.Equal("v" + i, Encoding.UTF8.GetString(await reader.GetAsync("k" + i) ?? []));
        }

        Assert.Equal(forwarded, Served("forwarded"));
        Assert.Equal(localReads + local.Count, Served("local"));

        foreach (int i in remote)
        {
            Assert.Equal("v" + i, Encoding.UTF8.GetString(await reader.GetAsync("k" + i) ?? []));
        }

        Assert.Equal(forwarded + remote.Count, Served("forwarded"));
    }
}
