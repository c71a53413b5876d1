using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Healing;

/// <summary>
/// A replica that comes back on its own data directory: it keeps its slices and is sent only
/// what it missed (hinted handoff by delta catch-up, deletes included); a replica whose files
/// were deleted or damaged while it was down is repaired by anti-entropy.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class ReturningReplicaTests(ITestOutputHelper output)
{
    private const int Keys = 400;
    private static readonly byte[] Value = new byte[2048];

    [Fact]
    public async Task A_restarted_node_is_sent_only_the_writes_and_deletes_it_missed()
    {
        // A hint reaches back past any write that may still be in flight when a replica leaves
        // (RequestTimeout + 3.5 s); with a 1 s RequestTimeout, writes 5 s old are outside it.
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3, o => o.RequestTimeout = TimeSpan.FromSeconds(1));
        await cluster.WaitSettledAsync();
        await WriteAsync(cluster, 0, Keys, "old");
        var written = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.TrueAsync(() => written.Elapsed > TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), "the old writes left the in-flight window");
        long streamedBefore = StreamedByOthers(cluster, 2);

        await cluster.StopNodeAsync(2);
        await WriteAsync(cluster, 0, 20, "new");
        for (int i = 20; i < 30; i++)
        {
            await cluster.Cache(i % 2).RemoveAsync("k" + i);
        }

        await cluster.StartNodeAsync(2);
        await cluster.WaitSettledAsync(TimeSpan.FromSeconds(40));
        long streamed = StreamedByOthers(cluster, 2) - streamedBefore;
        long full = Keys * (long)Value.Length;
        output.WriteLine($"streamed to the returning node: {streamed} bytes (its slices hold about {full} bytes of values)");
        Assert.True(streamed < full / 4, $"the returning node was streamed {streamed} bytes, close to a full copy ({full})");

        AssertHeldBy(cluster, 2, i => i < 20 ? "new" : i < 30 ? null : "old");
    }

    [Theory]
    [InlineData("deleted")]
    [InlineData("damaged")]
    public async Task Files_lost_or_damaged_while_a_node_was_down_are_repaired_after_it_returns(string harm)
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3, o => o.AntiEntropyInterval = TimeSpan.FromMilliseconds(500));
        await cluster.WaitSettledAsync();
        await WriteAsync(cluster, 0, Keys, "v");

        await cluster.StopNodeAsync(2);
        string slices = Path.Combine(cluster.DataDirectory(2), "slices");
        foreach (string file in Directory.GetFiles(slices, "*.smd"))
        {
            if (harm == "deleted")
            {
                File.Delete(file);
            }
            else
            {
                Damage(file);
            }
        }

        await cluster.StartNodeAsync(2);
        await cluster.WaitSettledAsync(TimeSpan.FromSeconds(40));
        await Eventually.TrueAsync(() => Task.FromResult(Missing(cluster, 2, _ => "v") == 0), TimeSpan.FromSeconds(30), $"node 2 repaired after its files were {harm}");
        AssertHeldBy(cluster, 2, _ => "v");
    }

    private static async Task WriteAsync(InProcessCluster cluster, int node, int count, string prefix)
    {
        for (int i = 0; i < count; i++)
        {
            byte[] value = [.. Encoding.UTF8.GetBytes(prefix + i + ":"), .. Value];
            await cluster.Cache(node).SetAsync("k" + i, value, new DistributedCacheEntryOptions());
        }
    }

    private static long StreamedByOthers(InProcessCluster cluster, int returning) =>
        cluster.Running.Where(i => i != returning).Sum(i => cluster.Node(i).BytesStreamed);

    // Every key of a slice the node holds must be in its own store with the expected value (null: deleted).
    private static int Missing(InProcessCluster cluster, int node, Func<int, string?> expected)
    {
        SmdSsNode smdss = cluster.Node(node);
        int missing = 0;
        for (int i = 0; i < Keys; i++)
        {
            string key = "k" + i;
            uint hash = KeyHash.Of(key);
            if (!smdss.SliceMap!.Find(hash).IsHeldBy(smdss.Self))
            {
                continue;
            }

            SliceStore store = smdss.Store!.SliceFor(hash);
            string? held = store.TryGet(key, out StoredEntry entry) ? Prefix(entry.ValueInMemory ?? store.ReadValue(entry)) : null;
            string? want = expected(i) is { } p ? p + i : null;
            if (held != want)
            {
                missing++;
            }
        }

        return missing;
    }

    private static void AssertHeldBy(InProcessCluster cluster, int node, Func<int, string?> expected) =>
        Assert.Equal(0, Missing(cluster, node, expected));

    private static string? Prefix(byte[]? value) => value is null ? null : Encoding.UTF8.GetString(value).Split(':')[0];

    // Flips bytes in the middle of the file: the records there fail their CRC and are dropped at load.
    private static void Damage(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        for (long at = stream.Length / 4; at < stream.Length * 3 / 4; at += 997)
        {
            stream.Position = at;
            stream.WriteByte(0xFF);
        }
    }
}
