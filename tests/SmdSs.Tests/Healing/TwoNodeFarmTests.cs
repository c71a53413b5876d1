using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Model;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Healing;

/// <summary>
/// The smallest farm users run: two nodes. When one crashes, the other keeps accepting writes
/// alone (after detection and the lease, not after the grace period), and the crashed node,
/// back on its data, is caught up: no acknowledged write is lost on either.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class TwoNodeFarmTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_two_node_farm_keeps_writing_when_one_node_dies_and_heals_when_it_returns(int victim)
    {
        int survivor = 1 - victim;
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(2, o => o.FailureDetectionTimeout = TimeSpan.FromSeconds(2));
        await cluster.WaitSettledAsync();
        for (int i = 0; i < 50; i++)
        {
            await cluster.Cache(i % 2).SetStringAsync("k" + i, "before" + i);
        }

        SmdSs.Model.NodeId lost = cluster.Node(victim).Self;
        output.WriteLine($"the crashed node leads {cluster.Node(survivor).SliceMap!.Slices.Count(s => s.Primary == lost)} of 16 slices");
        await cluster.CrashNodeAsync(victim);
        var sinceCrash = Stopwatch.StartNew();
        for (int i = 0; i < 50; i++)
        {
            await cluster.Cache(survivor).SetStringAsync("k" + i, "during" + i);
        }

        output.WriteLine($"50 writes through the surviving node took {sinceCrash.Elapsed.TotalSeconds:0.0} s after the crash, none failed");

        await cluster.StartNodeAsync(victim);
        await cluster.WaitSettledAsync(TimeSpan.FromSeconds(40));
        for (int node = 0; node < 2; node++)
        {
            for (int i = 0; i < 50; i++)
            {
                Assert.Equal("during" + i, await cluster.Cache(node).GetStringAsync("k" + i));
            }
        }
    }
}
