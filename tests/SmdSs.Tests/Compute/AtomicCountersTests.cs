using System.Text;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Compute;

[Collection(ClusterTestGroup.Name)]
public sealed class AtomicCountersTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public async Task Concurrent_increments_from_every_node_give_the_exact_total(int nodes)
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(nodes);
        await cluster.WaitSettledAsync();
        const int callersPerNode = 8;
        const int incrementsPerCaller = 100;
        string[] counters = ["hits", "orders:eu", "orders:us", "rate:user-7"];

        await Task.WhenAll(Enumerable.Range(0, nodes * callersPerNode).Select(caller => Task.Run(async () =>
        {
            SmdSsNode store = cluster.Node(caller % nodes);
            for (int i = 0; i < incrementsPerCaller; i++)
            {
                await store.IncrementAsync(counters[(caller + i) % counters.Length], 1 + (i % 3));
            }
        })));

        // Each caller adds 1, 2, 3, 1, 2, ... spread round-robin over the counters.
        var expected = new long[counters.Length];
        for (int caller = 0; caller < nodes * callersPerNode; caller++)
        {
            for (int i = 0; i < incrementsPerCaller; i++)
            {
                expected[(caller + i) % counters.Length] += 1 + (i % 3);
            }
        }

        for (int c = 0; c < counters.Length; c++)
        {
            for (int node = 0; node < nodes; node++)
            {
                Assert.Equal(expected[c].ToString(System.Globalization.CultureInfo.InvariantCulture), await cluster.Node(node).GetStringAsync(counters[c]));
            }
        }

        Assert.Equal(counters.Length, await cluster.Node(nodes - 1).CountKeysAsync());
    }

    [Fact]
    public async Task A_counter_reads_as_a_decimal_string_and_a_non_integer_value_is_refused()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();
        SmdSsNode node = cluster.Node(1);

        Assert.Equal(5, await node.IncrementAsync("c", 5));
        Assert.Equal(-2, await node.DecrementAsync("c", 7));
        Assert.Equal("-2", await cluster.Node(2).GetStringAsync("c"));

        await node.SetStringAsync("not-a-number", "abc");
        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await cluster.Node(0).IncrementAsync("not-a-number"));
        Assert.Contains("not-a-number", error.Message, StringComparison.Ordinal);
        Assert.Equal("abc", await node.GetStringAsync("not-a-number"));

        await node.SetStringAsync("big", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await node.IncrementAsync("big"));
    }

    [Fact]
    public async Task Append_grows_the_value_on_every_replica()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();
        await Task.WhenAll(Enumerable.Range(0, 30).Select(i => cluster.Node(i % 3).AppendAsync("log", Encoding.UTF8.GetBytes("x")).AsTask()));
        for (int node = 0; node < 3; node++)
        {
            Assert.Equal(new string('x', 30), await cluster.Node(node).GetStringAsync("log"));
        }
    }
}
