using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Cluster;

[Collection(ClusterTestGroup.Name)]
public sealed class ClusterBasicsTests
{
    [Fact]
    public async Task Three_nodes_form_one_cluster_and_any_node_serves_any_key()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();

        for (int i = 0; i < 60; i++)
        {
            await cluster.Cache(i % 3).SetAsync("key" + i, Encoding.UTF8.GetBytes("value" + i), new DistributedCacheEntryOptions());
        }

        for (int node = 0; node < 3; node++)
        {
            for (int i = 0; i < 60; i++)
            {
                Assert.Equal("value" + i, Encoding.UTF8.GetString(await cluster.Cache(node).GetAsync("key" + i) ?? []));
            }
        }
    }
}
