using System.Collections.Concurrent;
using System.Globalization;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Compute;

/// <summary>
/// Increments from two nodes while the third (a primary of some counters) is killed: every
/// increment that returned is counted exactly once; one that threw may or may not count.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class IncrementFailoverTests
{
    [Fact]
    public async Task Increments_running_while_a_node_dies_are_counted_once_each()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();
        string[] counters = [.. Enumerable.Range(0, 8).Select(i => "visits:" + i)];
        const int workersPerNode = 4;
        var successes = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var failures = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        int done = 0;
        using var stop = new CancellationTokenSource();

        // The workers run until told to stop, so that increments are in flight before, during
        // and after the crash however fast the machine is.
        Task[] workers = [.. Enumerable.Range(0, 2 * workersPerNode).Select(w => Task.Run(async () =>
        {
            SmdSsNode node = cluster.Node(w % 2);
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                string key = counters[(w + i) % counters.Length];
                try
                {
                    await node.IncrementAsync(key);
                    successes.AddOrUpdate(key, 1, (_, n) => n + 1);
                }
                catch (SmdSsUnavailableException)
                {
                    failures.AddOrUpdate(key, 1, (_, n) => n + 1);
                }

                Interlocked.Increment(ref done);
            }
        }))];

        try
        {
            await Eventually.TrueAsync(() => Volatile.Read(ref done) >= 100 || workers.Any(t => t.IsCompleted), TimeSpan.FromSeconds(30), "100 increments done");
            await cluster.CrashNodeAsync(2);
            int doneAtCrash = Volatile.Read(ref done);
            await Eventually.TrueAsync(() => Volatile.Read(ref done) >= doneAtCrash + 200 || workers.Any(t => t.IsCompleted), TimeSpan.FromSeconds(60), "200 increments done after the crash");
        }
        finally
        {
            await stop.CancelAsync();
        }

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(90));

        int total = Volatile.Read(ref done);
        Assert.Equal(total, successes.Values.Sum() + failures.Values.Sum());
        foreach (string key in counters)
        {
            int succeeded = successes.GetValueOrDefault(key);
            int failed = failures.GetValueOrDefault(key);
            for (int node = 0; node < 2; node++)
            {
                long final = long.Parse(await cluster.Node(node).GetStringAsync(key) ?? "0", CultureInfo.InvariantCulture);
                Assert.True(final >= succeeded && final <= succeeded + failed, $"{key} on node {node}: {final}, with {succeeded} increments returned and {failed} failed");
            }
        }
    }
}
