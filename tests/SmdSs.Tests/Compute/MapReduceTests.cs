using System.Globalization;
using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;
using SmdSs.Compute;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Compute;

/// <summary>
/// Map-reduce over 3- and 5-node clusters equals the same computation over all the data in one
/// place: registered map functions, key counts and prefix scans, from every node, also when a
/// node holding slices is killed while the query is in flight.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class MapReduceTests(ITestOutputHelper output)
{
    private static readonly string[] Prefixes = ["a:", "ab:", "b:", "c:"];

    private static Task<InProcessCluster> StartAsync(int nodes) =>
        InProcessCluster.StartWithAsync(nodes, b => b.AddMapFunction<SumByPrefixMapFunction>().AddMapFunction<ThrowingMapFunction>().AddMapFunction<GatedSumMapFunction>());

    /// <summary>The data, in one place: key → value (ASCII integers).</summary>
    private static SortedDictionary<string, long> Data(int keys)
    {
        var data = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < keys; i++)
        {
            data[$"{Prefixes[i % Prefixes.Length]}{i:D5}"] = ((i * 7919L) % 10_007) - 5_000;
        }

        return data;
    }

    private static async Task WriteAsync(InProcessCluster cluster, IEnumerable<KeyValuePair<string, long>> data, DistributedCacheEntryOptions? options = null)
    {
        int[] nodes = [.. cluster.Running];
        await Parallel.ForEachAsync(data.Select((kv, i) => (kv.Key, kv.Value, Node: nodes[i % nodes.Length])), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (item, cancellationToken) =>
            await cluster.Node(item.Node).SetStringAsync(item.Key, item.Value.ToString(CultureInfo.InvariantCulture), options, cancellationToken));
    }

    private static (long Sum, long Count) Expected(SortedDictionary<string, long> data, string prefix)
    {
        long[] values = [.. data.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(kv => kv.Value)];
        return (values.Sum(), values.Length);
    }

    private static (long Sum, long Count) Reduce(IReadOnlyList<byte[]> partials)
    {
        long sum = 0;
        long count = 0;
        foreach (byte[] partial in partials)
        {
            var reader = new MessageReader(partial);
            sum += reader.I64();
            count += reader.I64();
        }

        return (sum, count);
    }

    private static ValueTask<(long Sum, long Count)> SumAsync(SmdSsNode node, string function, string prefix) =>
        node.MapReduceAsync(function, Encoding.UTF8.GetBytes(prefix), Reduce);

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public async Task Map_reduce_key_counts_and_scans_equal_the_same_computation_in_one_place_from_every_node(int nodes)
    {
        await using InProcessCluster cluster = await StartAsync(nodes);
        await cluster.WaitSettledAsync();

        // Entries that expire soon: written first, they must not be counted once expired.
        var expiring = Enumerable.Range(0, 40).ToDictionary(i => $"a:expiring:{i}", i => (long)i);
        await WriteAsync(cluster, expiring, new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(1) });
        SortedDictionary<string, long> data = Data(2400);
        await WriteAsync(cluster, data);
        await Eventually.TrueAsync(
            async () => (await Task.WhenAll(expiring.Keys.Select(k => cluster.Node(0).ExistsAsync(k).AsTask()))).All(e => !e),
            TimeSpan.FromSeconds(30),
            "the expiring entries expired");

        string[] allKeys = [.. data.Keys];
        for (int node = 0; node < nodes; node++)
        {
            SmdSsNode store = cluster.Node(node);
            foreach (string prefix in Prefixes.Append(""))
            {
                Assert.Equal(Expected(data, prefix), await SumAsync(store, SumByPrefixMapFunction.FunctionName, prefix));
                Assert.Equal(Expected(data, prefix).Count, await store.CountKeysAsync(prefix));
            }

            Assert.Equal(data.Count, await store.CountKeysAsync());
            Assert.Equal(0, await store.CountKeysAsync("zzz"));
            Assert.Equal(allKeys, await store.ScanKeysAsync(""));
            Assert.Equal(allKeys.Where(k => k.StartsWith("a:", StringComparison.Ordinal)), await store.ScanKeysAsync("a:"));
            Assert.Empty(await store.ScanKeysAsync("zzz"));
            // In pages of a few keys per slice: many rounds behind one cursor, the same keys once each.
            IReadOnlyList<KeyValuePair<string, byte[]>> paged = await SmdSsComputeExtensions.ScanPagesAsync(store, BuiltInMapFunctions.Keys, "", withValues: false, pageBytes: 64, CancellationToken.None);
            Assert.Equal(allKeys, paged.Select(kv => kv.Key));
            IReadOnlyList<KeyValuePair<string, byte[]>> pagedEntries = await SmdSsComputeExtensions.ScanPagesAsync(store, BuiltInMapFunctions.Scan, "a", withValues: true, pageBytes: 1, CancellationToken.None);
            Assert.Equal(data.Where(kv => kv.Key.StartsWith('a')).Select(kv => (kv.Key, kv.Value.ToString(CultureInfo.InvariantCulture))), pagedEntries.Select(kv => (kv.Key, Encoding.ASCII.GetString(kv.Value))));

            IReadOnlyList<KeyValuePair<string, byte[]>> scanned = await store.ScanAsync(node % 2 == 0 ? "ab:" : "");
            KeyValuePair<string, long>[] expected = [.. data.Where(kv => kv.Key.StartsWith(node % 2 == 0 ? "ab:" : "", StringComparison.Ordinal))];
            Assert.Equal(expected.Select(kv => kv.Key), scanned.Select(kv => kv.Key));
            Assert.Equal(expected.Select(kv => kv.Value.ToString(CultureInfo.InvariantCulture)), scanned.Select(kv => Encoding.ASCII.GetString(kv.Value)));
        }
    }

    [Fact]
    public async Task A_scan_of_more_than_MaxValueBytes_per_slice_travels_in_pages()
    {
        using var directory = new TempDirectory();
        await using SmdSsNode node = await TestNodes.StartAsync(directory.Path, configure: o =>
        {
            o.MaxValueBytes = 16 << 10;
            o.InitialSliceCount = 2;
        });
        var written = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        for (int i = 0; i < 5_000; i++)
        {
            string key = $"scan:{i:D5}";
            written[key] = Encoding.ASCII.GetBytes($"value-{i}-{new string('x', 40)}");
            await node.SetAsync(key, written[key]);
        }

        // About 150 KiB of entries per slice, ten times MaxValueBytes: one partial could not carry them.
        IReadOnlyList<KeyValuePair<string, byte[]>> scanned = await node.ScanAsync("scan:");
        Assert.Equal(written.Keys, scanned.Select(kv => kv.Key));
        Assert.Equal(written.Values, scanned.Select(kv => kv.Value));
        Assert.Equal(written.Keys, await node.ScanKeysAsync(""));
    }

    [Fact]
    public async Task A_node_killed_while_the_query_is_in_flight_is_retried_on_another_replica_and_the_answer_is_complete()
    {
        const int nodes = 3;
        await using InProcessCluster cluster = await StartAsync(nodes);
        await cluster.WaitSettledAsync();

        // The victim must lead a slice in the caller's map, or no map call would reach it.
        int victim = -1;
        await Eventually.TrueAsync(
            () =>
            {
                HashSet<string> primaries = [.. cluster.Node(0).GetStatus().Slices.Select(s => s.Replicas[0])];
                victim = Enumerable.Range(1, nodes - 1).FirstOrDefault(i => primaries.Contains(cluster.Node(i).NodeId!), -1);
                return victim > 0;
            },
            TimeSpan.FromSeconds(60),
            "a node other than the caller leads a slice");
        SortedDictionary<string, long> data = Data(1500);
        await WriteAsync(cluster, data);

        using var gate = GatedSumMapFunction.Arm(cluster.DataDirectory(victim));
        Task<(long Sum, long Count)> query = SumAsync(cluster.Node(0), GatedSumMapFunction.FunctionName, "").AsTask();
        await gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(query.IsCompleted, "the query waits for the victim's slice");

        // Kill the victim while it is mapping a slice for the query; the answer must not need it.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Task crash = cluster.CrashNodeAsync(victim);
        (long Sum, long Count) answer = await query.WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"the query answered {clock.ElapsedMilliseconds} ms after the kill began (crash finished: {crash.IsCompleted})");
        gate.Release();
        await crash.WaitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine($"the crash finished {clock.ElapsedMilliseconds} ms after it began");

        Assert.Equal(Expected(data, ""), answer);
        Assert.Equal(data.Count, await cluster.Node(0).CountKeysAsync());
    }

    [Fact]
    public async Task A_throwing_map_function_or_an_unknown_name_gives_SmdSsProcessorException()
    {
        await using InProcessCluster cluster = await StartAsync(3);
        await cluster.WaitSettledAsync();
        await WriteAsync(cluster, Data(100));

        for (int node = 0; node < 3; node++)
        {
            SmdSsProcessorException thrown = await Assert.ThrowsAsync<SmdSsProcessorException>(async () => await cluster.Node(node).MapAsync(ThrowingMapFunction.FunctionName));
            Assert.Contains(ThrowingMapFunction.FunctionName, thrown.Message, StringComparison.Ordinal);
            Assert.Contains(ThrowingMapFunction.Failure, thrown.Message, StringComparison.Ordinal);

            SmdSsProcessorException unknown = await Assert.ThrowsAsync<SmdSsProcessorException>(async () => await cluster.Node(node).MapAsync("no-such-map"));
            Assert.Contains("no-such-map", unknown.Message, StringComparison.Ordinal);
        }

        // The cluster still maps.
        Assert.Equal(100, await cluster.Node(1).CountKeysAsync());
    }
}

/// <summary>Partial: <c>i64 sum | i64 count</c> of the values (ASCII integers) of the keys starting with the argument.</summary>
public sealed class SumByPrefixMapFunction : ISmdSsMapFunction
{
    public const string FunctionName = "sum-by-prefix";

    public string Name => FunctionName;

    public byte[] Map(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument) => Sum(entries, argument);

    internal static byte[] Sum(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument)
    {
        string prefix = Encoding.UTF8.GetString(argument.Span);
        long sum = 0;
        long count = 0;
        foreach (SmdSsEntry entry in entries.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)))
        {
            sum += long.Parse(Encoding.ASCII.GetString(entry.Value.Span), CultureInfo.InvariantCulture);
            count++;
        }

        return new MessageWriter().I64(sum).I64(count).ToArray();
    }
}

/// <summary>Always throws.</summary>
public sealed class ThrowingMapFunction : ISmdSsMapFunction
{
    public const string FunctionName = "throwing-map";
    public const string Failure = "the map blew up";

    public string Name => FunctionName;

    public byte[] Map(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument) => throw new InvalidOperationException(Failure);
}

/// <summary>
/// <see cref="SumByPrefixMapFunction"/>, except that on one armed node (known by its data
/// directory) its first call blocks until released: a query provably in flight on that node.
/// </summary>
public sealed class GatedSumMapFunction(IOptions<SmdSsOptions> options) : ISmdSsMapFunction
{
    public const string FunctionName = "gated-sum";
    private static Gate? s_armed;

    public string Name => FunctionName;

    /// <summary>Blocks the first call on the node with <paramref name="dataDirectory"/>; dispose to disarm (and release).</summary>
    public static Gate Arm(string dataDirectory)
    {
        var gate = new Gate(dataDirectory);
        s_armed = gate;
        return gate;
    }

    public byte[] Map(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument)
    {
        if (s_armed is { } gate && gate.DataDirectory == options.Value.DataDirectory && gate.TryEnter())
        {
            // A safety limit only: the test releases the gate long before.
            gate.Released.Wait(TimeSpan.FromSeconds(90));
        }

        return SumByPrefixMapFunction.Sum(entries, argument);
    }

    public sealed class Gate(string dataDirectory) : IDisposable
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public string DataDirectory { get; } = dataDirectory;

        public ManualResetEventSlim Released { get; } = new();

        public Task Entered => _entered.Task;

        public bool TryEnter()
        {
            bool first = Interlocked.Increment(ref _calls) == 1;
            if (first)
            {
                _entered.TrySetResult();
            }

            return first;
        }

        public void Release() => Released.Set();

        public void Dispose()
        {
            Interlocked.CompareExchange(ref s_armed, null, this);
            Released.Set();
        }
    }
}
