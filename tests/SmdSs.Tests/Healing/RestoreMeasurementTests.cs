using System.Diagnostics;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Healing;

/// <summary>
/// Automatic backup restore, measured: 100 MiB in a 4-node cluster, one node crashes, and its
/// slices get new replicas streamed from the survivors until every slice has 3 copies again.
/// Prints the time from the crash (detection, grace period, streaming) and the streaming rate.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class RestoreMeasurementTests(ITestOutputHelper output)
{
    private const int ValueBytes = 64 << 10;
    private const int Values = 1600; // 100 MiB

    [Fact]
    public async Task After_a_crash_100_MiB_are_back_at_3_copies_and_every_value_is_intact()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(4, o =>
        {
            o.FailureDetectionTimeout = TimeSpan.FromSeconds(2);
            o.ReplacementGracePeriod = TimeSpan.FromSeconds(1);
        });
        await cluster.WaitSettledAsync();

        var loading = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, Values), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            await cluster.Cache(i % 4).SetAsync("blob" + i, ValueOf(i), new DistributedCacheEntryOptions(), ct));
        output.WriteLine($"loaded {Values * (long)ValueBytes >> 20} MiB (3 copies) in {loading.Elapsed.TotalSeconds:0.0} s");

        long streamedBefore = Enumerable.Range(0, 3).Sum(i => cluster.Node(i).BytesStreamed);
        await cluster.CrashNodeAsync(3);
        var sinceCrash = Stopwatch.StartNew();
        await cluster.WaitSettledAsync(TimeSpan.FromSeconds(120));
        TimeSpan restored = sinceCrash.Elapsed;
        long streamed = Enumerable.Range(0, 3).Sum(i => cluster.Node(i).BytesStreamed) - streamedBefore;
        output.WriteLine(
            $"3 copies of 100 MiB again {restored.TotalSeconds:0.0} s after the crash (detection 2 s + grace 1 s included); " +
            $"{streamed >> 20} MiB streamed to new replicas");

        for (int node = 0; node < 3; node++)
        {
            for (int i = 0; i < Values; i += 7)
            {
                Assert.Equal(ValueOf(i), await cluster.Cache(node).GetAsync("blob" + i));
            }
        }
    }

    private static byte[] ValueOf(int i)
    {
        byte[] value = new byte[ValueBytes];
        new Random(i).NextBytes(value);
        return value;
    }
}
