using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Compute;

/// <summary>Compare-and-swap under contention from every node of a 3-node cluster: exactly one writer wins per version.</summary>
[Collection(ClusterTestGroup.Name)]
public sealed class CompareAndSwapContentionTests
{
    private const int Nodes = 3;

    [Fact]
    public async Task Of_many_callers_expecting_the_same_version_exactly_one_wins_per_version()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(Nodes);
        await cluster.WaitSettledAsync();
        const int callers = Nodes * 6;
        const int rounds = 12;
        const string key = "cas:round";
        await cluster.Node(0).SetStringAsync(key, "start");

        for (int round = 0; round < rounds; round++)
        {
            SmdSsVersionedValue?[] seen = await Task.WhenAll(Enumerable.Range(0, callers).Select(c => cluster.Node(c % Nodes).GetVersionedAsync(key).AsTask()));
            long version = seen[0]!.Version;
            Assert.All(seen, s => Assert.Equal(version, s!.Version));

            int r = round;
            (int Caller, SmdSsSwapResult Result)[] results = await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
                (c, await cluster.Node(c % Nodes).CompareAndSwapAsync(key, version, Encoding.UTF8.GetBytes($"round {r} caller {c}"))))));

            (int winner, SmdSsSwapResult won) = Assert.Single(results, x => x.Result.Swapped);
            Assert.True(won.Version > version, $"round {round}: the new version {won.Version} is not above {version}");

            // Every loser was decided after the winner (else it would have matched): it sees the winner's version.
            Assert.All(results.Where(x => !x.Result.Swapped), x => Assert.Equal(won.Version, x.Result.Version));

            for (int node = 0; node < Nodes; node++)
            {
                SmdSsVersionedValue? now = await cluster.Node(node).GetVersionedAsync(key);
                Assert.Equal($"round {round} caller {winner}", Encoding.UTF8.GetString(now!.Value));
                Assert.Equal(won.Version, now.Version);
            }
        }
    }

    [Fact]
    public async Task Read_version_then_swap_plus_one_from_every_node_counts_exactly_the_successful_swaps()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(Nodes);
        await cluster.WaitSettledAsync();
        const int workersPerNode = 4;
        const int attempts = 25;
        const string key = "cas:counter";
        await cluster.Node(1).SetStringAsync(key, "0");

        var written = new ConcurrentBag<long>();
        var versions = new ConcurrentBag<long>();
        int failedSwaps = 0;
        await Task.WhenAll(Enumerable.Range(0, Nodes * workersPerNode).Select(w => Task.Run(async () =>
        {
            SmdSsNode node = cluster.Node(w % Nodes);
            for (int i = 0; i < attempts; i++)
            {
                SmdSsVersionedValue current = (await node.GetVersionedAsync(key))!;
                long next = long.Parse(Encoding.ASCII.GetString(current.Value), CultureInfo.InvariantCulture) + 1;
                SmdSsSwapResult result = await node.CompareAndSwapAsync(key, current.Version, Encoding.ASCII.GetBytes(next.ToString(CultureInfo.InvariantCulture)));
                if (result.Swapped)
                {
                    written.Add(next);
                    versions.Add(result.Version);
                }
                else
                {
                    Interlocked.Increment(ref failedSwaps);
                    Assert.True(result.Version > current.Version, "a failed swap reports a newer version than the one read");
                }
            }
        })));

        int successes = written.Count;
        Assert.Equal(Nodes * workersPerNode * attempts, successes + failedSwaps);
        Assert.True(successes > 0);

        // Each number was written by exactly one winner, each with its own version: 1, 2, ..., successes.
        Assert.Equal(Enumerable.Range(1, successes).Select(n => (long)n), written.Order());
        Assert.Equal(successes, versions.Distinct().Count());
        for (int node = 0; node < Nodes; node++)
        {
            Assert.Equal(successes.ToString(CultureInfo.InvariantCulture), await cluster.Node(node).GetStringAsync(key));
        }
    }

    [Fact]
    public async Task Of_many_creators_expecting_a_missing_key_exactly_one_wins()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(Nodes);
        await cluster.WaitSettledAsync();
        const int creators = Nodes * 8;
        string[] keys = ["lock:a", "lock:b", "lock:c", "order:17", "user:x"];

        foreach (string key in keys)
        {
            (int Caller, SmdSsSwapResult Result)[] results = await Task.WhenAll(Enumerable.Range(0, creators).Select(c => Task.Run(async () =>
                (c, await cluster.Node(c % Nodes).CompareAndSwapAsync(key, 0, Encoding.UTF8.GetBytes($"owner {c}"))))));

            (int winner, SmdSsSwapResult won) = Assert.Single(results, x => x.Result.Swapped);
            Assert.True(won.Version > 0);
            Assert.All(results.Where(x => !x.Result.Swapped), x => Assert.Equal(won.Version, x.Result.Version));
            for (int node = 0; node < Nodes; node++)
            {
                Assert.Equal($"owner {winner}", await cluster.Node(node).GetStringAsync(key));
            }
        }
    }
}
