using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Model;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Healing;

/// <summary>
/// A cluster loaded far past its split threshold splits its slices by itself: every node's map
/// converges on the same finer layout, every slice ends under the threshold, no key is lost,
/// and the halves spread over the nodes.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class AutomaticSplitTests(ITestOutputHelper output)
{
    private const int Threshold = 64;
    private const int Keys = 1500;

    [Fact]
    public async Task Slices_past_the_threshold_split_converge_spread_and_lose_no_key()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(4, o => o.SplitThresholdKeys = Threshold);
        await cluster.WaitSettledAsync();
        Assert.Equal(16, cluster.Node(0).SliceMap!.Count);

        for (int i = 0; i < Keys; i++)
        {
            await cluster.Cache(i % 4).SetAsync("k" + i, Encoding.UTF8.GetBytes("v" + i), new DistributedCacheEntryOptions());
        }

        try
        {
            await Eventually.TrueAsync(
                () => cluster.IsSettled() && cluster.Running.All(n => cluster.Node(n).GetStatus().Slices.All(s => s.LocalEntries < Threshold)),
                TimeSpan.FromSeconds(60),
                "every slice split under the threshold and the cluster settled");
        }
        catch
        {
            output.WriteLine(cluster.Describe());
            throw;
        }

        var status = cluster.Node(0).GetStatus();
        var primaries = status.Slices.GroupBy(s => s.Replicas[0]).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"{status.Slices.Count} slices; primaries per node: {string.Join(", ", primaries.Values)}; largest slice {status.Slices.Max(s => s.LocalEntries)} keys");
        Assert.True(status.Slices.Count >= Keys / Threshold, $"only {status.Slices.Count} slices");
        Assert.Equal(4, primaries.Count);
        Assert.True(primaries.Values.Max() - primaries.Values.Min() <= Math.Max(2, status.Slices.Count / 10), $"primaries unbalanced: {string.Join(", ", primaries.Values)}");
        Assert.True(cluster.Running.Sum(n => cluster.Node(n).GetStatus().Repairs.Splits) >= status.Slices.Count - 16);

        for (int node = 0; node < 4; node++)
        {
            for (int i = 0; i < Keys; i++)
            {
                Assert.Equal("v" + i, Encoding.UTF8.GetString(await cluster.Cache(node).GetAsync("k" + i) ?? []));
            }
        }
    }
}
