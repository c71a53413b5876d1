using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Cluster;

/// <summary>
/// The sliding-expiration rule: an entry whose window a read renewed, on any node that answered
/// that read, does not expire anywhere before that read's deadline; an entry nobody reads is
/// gone everywhere once its window has passed. Keys are written on node 0 and read only on
/// nodes that are not their primary (the case where a renewal has to travel).
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class SlidingExpirationAcrossNodesTests(ITestOutputHelper output)
{
    private const int KeysPerScenario = 20;
    private static readonly TimeSpan ReadFor = TimeSpan.FromSeconds(3);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_key_read_within_its_window_on_any_node_never_expires_and_an_unread_one_is_gone_everywhere(int nodes)
    {
        // Expired entries are purged every maintenance round, so an early expiry anywhere shows.
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(nodes, o => o.ExpirationScanInterval = TimeSpan.FromMilliseconds(100));
        await cluster.WaitSettledAsync(replicationFactor: Math.Min(3, nodes));

        // Scenarios at once on disjoint keys: windows of 1 s and 2 s renewed by Get and by Refresh
        // every half window (renewed at the primary: shorter than the touch propagation bound);
        // 6 s (replicas answer locally while the deadline the primary holds is far enough); and a
        // sub-second window, kept to the millisecond as MemoryDistributedCache does.
        Scenario[] scenarios =
        [
            new("get-1s", TimeSpan.FromSeconds(1), ReadsBy.Get),
            new("get-2s", TimeSpan.FromSeconds(2), ReadsBy.Get),
            new("refresh-1s", TimeSpan.FromSeconds(1), ReadsBy.Refresh),
            new("refresh-2s", TimeSpan.FromSeconds(2), ReadsBy.Refresh),
            new("get-6s", TimeSpan.FromSeconds(6), ReadsBy.Get),
            new("get-400ms", TimeSpan.FromMilliseconds(400), ReadsBy.Get),
        ];
        RenewalResult[] results = await Task.WhenAll(scenarios.Select(s => RunAsync(cluster, nodes, s)));
        foreach (RenewalResult result in results)
        {
            output.WriteLine($"{result.Scenario}: {result.Reads} reads, {result.Lost.Count} renewed keys read null, {result.LapsedByLateReads} keys not read within their window (excluded)");
        }

        var lost = results.SelectMany(r => r.Lost).ToList();
        List<RenewedKey> watched = [.. results.SelectMany(r => r.Renewed)];
        Assert.True(lost.Count == 0, "keys read back null within the window of a read that renewed them:\n" + string.Join("\n", lost));
        Assert.True(watched.Count > 0, "no key was read within its window on this machine");

        // The 6 s keys were read on replicas, from their own copies while far from the end: the
        // renewals reached the primary, which confirmed them.
        Assert.Contains(watched, k => k.Window == 6_000 && Enumerable.Range(0, nodes).Any(i => PrimaryDeadlineOn(cluster.Node(i), k.Key) >= k.SetAt + 7_000));

        // Nobody reads any more. Until its last renewal's deadline a key exists on every node
        // (Exists renews nothing: a primary that missed a renewal would drop it here); once its
        // window has passed it is gone for every reader, within the propagation bound.
        long end = watched.Max(k => k.RenewedAtMost) + SlidingRenewal.PropagationBoundMs + 100;
        while (NowMs() < end)
        {
            long roundStart = NowMs();
            foreach (RenewedKey key in watched.Where(k => NowMs() < k.RenewedUntil))
            {
                for (int i = 0; i < nodes; i++)
                {
                    bool exists = await cluster.Node(i).ExistsAsync(key.Key);
                    long completed = NowMs();
                    if (!exists && completed < key.RenewedUntil)
                    {
                        lost.Add($"{key.Key}: gone on node {i} {key.RenewedUntil - completed} ms before the deadline of a read that renewed it{Describe(cluster, nodes, key.Key)}");
                    }
                }
            }

            await Eventually.TrueAsync(() => NowMs() >= roundStart + 250, TimeSpan.FromSeconds(5), "next check round");
        }

        Assert.True(lost.Count == 0, "renewed keys gone before the deadline of a read:\n" + string.Join("\n", lost));
        foreach (RenewedKey key in watched)
        {
            for (int i = 0; i < nodes; i++)
            {
                Assert.Null(await cluster.Node(i).GetAsync(key.Key));
            }
        }

        // And their storage goes too, on every node: the primary deletes them on every replica.
        await Eventually.TrueAsync(
            () => watched.All(k => Enumerable.Range(0, nodes).All(i => !Holds(cluster.Node(i), k.Key))),
            TimeSpan.FromSeconds(10),
            "expired entries removed from every node's store");
    }

    private static async Task<RenewalResult> RunAsync(InProcessCluster cluster, int nodes, Scenario scenario)
    {
        var options = new DistributedCacheEntryOptions { SlidingExpiration = scenario.Window };
        string[] keys = [.. Enumerable.Range(0, KeysPerScenario).Select(i => $"{scenario.Name}:{i}")];
        var setAt = new Dictionary<string, long>();
        foreach (string key in keys)
        {
            setAt[key] = NowMs();
            await cluster.Cache(0).SetAsync(key, [1, 2, 3], options);
        }

        SliceMap map = cluster.Node(0).SliceMap!;
        int[] ReadersOf(string key) =>
            [.. Enumerable.Range(0, nodes).Where(i => map.Find(KeyHash.Of(key)).Primary!.Value.ToString() != cluster.Node(i).NodeId)];

        // A read that returned the value renewed the key until at least its invocation time +
        // window. A later read that completes before that deadline ran before it, so it must find
        // the key; one that completes after it proves nothing (a busy machine may have delayed it).
        long window = (long)scenario.Window.TotalMilliseconds;
        var renewedUntil = new ConcurrentDictionary<string, long>();
        var renewedAtMost = new ConcurrentDictionary<string, long>();
        foreach (string key in keys)
        {
            renewedUntil[key] = setAt[key] + window;
            renewedAtMost[key] = NowMs() + window;
        }

        var lost = new ConcurrentBag<string>();
        var lapsed = new ConcurrentDictionary<string, bool>();
        int reads = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ReadFor)
        {
            long roundStart = NowMs();
            foreach (string key in keys.Where(k => !lapsed.ContainsKey(k)))
            {
                foreach (int reader in ReadersOf(key))
                {
                    long invoked = NowMs();
                    bool found = scenario.ReadsBy == ReadsBy.Get
                        ? await cluster.Node(reader).GetAsync(key) is not null
                        : await cluster.Node(reader).RefreshAsync(key);
                    long completed = NowMs();
                    reads++;
                    if (found)
                    {
                        renewedUntil[key] = Math.Max(renewedUntil[key], invoked + window);
                        renewedAtMost[key] = completed + window;
                    }
                    else if (completed < renewedUntil[key])
                    {
                        lost.Add($"{scenario.Name} {key} on node {reader}: null at {completed - roundStart} ms into a round, renewed until {renewedUntil[key] - completed} ms later{Describe(cluster, nodes, key)}");
                        lapsed[key] = true;
                    }
                    else
                    {
                        // This machine was too slow to read within the window: not evidence either way.
                        lapsed[key] = true;
                    }
                }

                // No node, the primary included, may have dropped it meanwhile (Exists does not renew).
                for (int node = 0; node < nodes && !lapsed.ContainsKey(key); node++)
                {
                    bool exists = await cluster.Node(node).ExistsAsync(key);
                    long completed = NowMs();
                    if (!exists && completed < renewedUntil[key])
                    {
                        lost.Add($"{scenario.Name} {key}: gone on node {node} {renewedUntil[key] - completed} ms before the deadline of a read that renewed it{Describe(cluster, nodes, key)}");
                        lapsed[key] = true;
                    }
                }
            }

            long next = roundStart + Math.Min(window / 2, 500);
            await Eventually.TrueAsync(() => NowMs() >= next, TimeSpan.FromSeconds(5), "next read round");
        }

        return new RenewalResult(
            scenario.Name,
            reads,
            [.. lost],
            lapsed.Count - lost.Count,
            [.. keys.Where(k => !lapsed.ContainsKey(k)).Select(k => new RenewedKey(k, window, setAt[k], renewedUntil[k], renewedAtMost[k]))]);
    }

    private static long PrimaryDeadlineOn(SmdSsNode node, string key) =>
        node.Store!.SliceFor(KeyHash.Of(key)).TryGet(key, out StoredEntry entry) ? entry.PrimaryDeadlineMs : 0;

    /// <summary>Each node's view of the key: its slice record and its copy's deadlines.</summary>
    private static string Describe(InProcessCluster cluster, int nodes, string key)
    {
        uint hash = KeyHash.Of(key);
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < nodes; i++)
        {
            SmdSsNode node = cluster.Node(i);
            PieSlice slice = node.SliceMap!.Find(hash);
            string copy = node.Store!.SliceFor(hash).TryGet(key, out StoredEntry entry)
                ? $"deadline in {entry.DeadlineMs - NowMs()} ms, primary's in {entry.PrimaryDeadlineMs - NowMs()} ms"
                : "no copy";
            text.Append($"; node {i} ({node.NodeId}): primary {slice.Primary} epoch {slice.Epoch} in sync [{string.Join(",", slice.InSync)}], {copy}");
        }

        return text.ToString();
    }

    private static bool Holds(SmdSsNode node, string key) =>
        node.Store!.SliceFor(KeyHash.Of(key)).TryGet(key, out StoredEntry _);

    private static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private enum ReadsBy
    {
        Get,
        Refresh,
    }

    private sealed record Scenario(string Name, TimeSpan Window, ReadsBy ReadsBy);

    private sealed record RenewalResult(string Scenario, int Reads, List<string> Lost, int LapsedByLateReads, List<RenewedKey> Renewed);

    /// <summary>A key renewed all along: until <paramref name="RenewedUntil"/> at least, <paramref name="RenewedAtMost"/> at most.</summary>
    private sealed record RenewedKey(string Key, long Window, long SetAt, long RenewedUntil, long RenewedAtMost);
}
