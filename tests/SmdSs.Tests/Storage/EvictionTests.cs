using Microsoft.Extensions.Time.Testing;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;
using static SmdSs.Tests.Storage.StorageTestSupport;

using SmdSs.Tests.Support;

namespace SmdSs.Tests.Storage;

/// <summary>
/// The memory limit: past it the least recently used values leave memory (never keys), memory
/// ends at or under the limit, and every evicted value is still read from its slice file.
/// </summary>
public sealed class EvictionTests : IDisposable
{
    private const long Limit = 256 << 10;
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private string SlicesPath => _scratch.Sub("slices");

    [Fact]
    public void Many_puts_keep_memory_at_or_under_the_limit_and_count_evictions()
    {
        using var store = new FlatFileStore(Settings(SlicesPath, maxMemoryBytes: Limit));
        store.Open(FourRanges(), EpochMs);
        long lastEvictions = 0;
        for (int i = 0; i < 300; i++)
        {
            string key = $"key-{i}";
            store.SliceFor(KeyHash.Of(key)).Put(key, i + 1, EntryExpiry.None, Value(2_048, i));
            store.EvictIfOverLimit();

            Assert.True(store.Memory.UsedBytes <= Limit, $"after put {i}: {store.Memory.UsedBytes} bytes used, limit {Limit}");
            Assert.True(store.Evictions >= lastEvictions);
            lastEvictions = store.Evictions;
        }

        IEnumerable<StoredEntry> entries = store.SliceStores.SelectMany(s => s.Entries);
        Assert.Equal(300, store.Count);
        Assert.True(store.Evictions > 100, $"only {store.Evictions} evictions");
        Assert.Equal(store.Evictions, entries.Count(e => e.ValueInMemory is null));
        Assert.Equal(entries.Sum(e => e.MemoryBytes), store.Memory.UsedBytes);
    }

    [Fact]
    public void The_least_recently_used_values_are_evicted_first_and_no_more_than_needed()
    {
        using var store = new FlatFileStore(Settings(SlicesPath, maxMemoryBytes: 60 << 10));
        store.Open(FourRanges(), EpochMs);
        var random = new Random(41);
        int[] ticks = [.. Enumerable.Range(1, 100).OrderBy(_ => random.Next())];
        for (int i = 0; i < 100; i++)
        {
            string key = $"key-{i}";
            SliceStore slice = store.SliceFor(KeyHash.Of(key));
            slice.Put(key, i + 1, EntryExpiry.None, Value(1_024, i));
            Assert.True(slice.TryGet(key, out StoredEntry? entry));
            entry.MarkAccess(ticks[i]);
        }

        Assert.True(store.Memory.IsOver);
        store.EvictIfOverLimit();

        var entries = store.SliceStores.SelectMany(s => s.Entries).ToList();
        var evicted = entries.Where(e => e.ValueInMemory is null).ToList();
        var kept = entries.Where(e => e.ValueInMemory is not null).ToList();
        Assert.NotEmpty(evicted);
        Assert.NotEmpty(kept);
        Assert.True(
            evicted.Max(e => e.LastAccess) < kept.Min(e => e.LastAccess),
            $"evicted up to tick {evicted.Max(e => e.LastAccess)} but kept tick {kept.Min(e => e.LastAccess)}");
        Assert.Equal(evicted.Count, store.Evictions);

        // Down to 90% of the limit, and not one value further.
        long target = store.Memory.LimitBytes / 10 * 9;
        Assert.True(store.Memory.UsedBytes <= target);
        Assert.True(store.Memory.UsedBytes + 1_024 > target, $"{store.Memory.UsedBytes} bytes used: evicted more than needed");
    }

    [Fact]
    public void Evicted_values_are_read_back_from_the_file_and_survive_a_restart()
    {
        var values = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var store = new FlatFileStore(Settings(SlicesPath, maxMemoryBytes: Limit)))
        {
            store.Open(FourRanges(), EpochMs);
            for (int i = 0; i < 200; i++)
            {
                string key = i % 4 == 0 ? $"ключ-{i}" : $"key-{i}";
                byte[] value = Value(1_000 + (i * 37 % 3_000), i);
                store.SliceFor(KeyHash.Of(key)).Put(key, i + 1, EntryExpiry.None, value);
                store.EvictIfOverLimit();
                values[key] = value;
            }

            Assert.True(store.Evictions > 0);
            var evicted = store.SliceStores.SelectMany(s => s.Entries.Where(e => e.ValueInMemory is null).Select(e => (s, e))).ToList();
            Assert.Equal(store.Evictions, evicted.Count);
            foreach ((SliceStore slice, StoredEntry entry) in evicted)
            {
                long used = store.Memory.UsedBytes;
                Assert.Equal(values[entry.Key], slice.ReadValue(entry));
                Assert.NotNull(entry.ValueInMemory);
                Assert.Equal(used + entry.ValueLength, store.Memory.UsedBytes);
                store.EvictIfOverLimit();
            }
        }

        using var reopened = new FlatFileStore(Settings(SlicesPath, maxMemoryBytes: Limit));
        reopened.Open(FourRanges(), EpochMs);

        Assert.True(reopened.Memory.UsedBytes <= Limit, $"{reopened.Memory.UsedBytes} bytes used after open, limit {Limit}");
        Assert.True(reopened.Evictions > 0);
        Assert.Equal(values.Count, reopened.Count);
        foreach ((string key, byte[] value) in values)
        {
            SliceStore slice = reopened.SliceFor(KeyHash.Of(key));
            Assert.True(slice.TryGet(key, out StoredEntry? entry), key);
            Assert.Equal(value, entry.ValueInMemory ?? slice.ReadValue(entry));
        }
    }

    [Fact]
    public async Task A_node_evicts_values_read_long_ago_before_values_it_just_wrote()
    {
        // 1 MiB limit, 64 KiB values: 13 old values are read, then new ones written until memory passes the limit.
        var time = new FakeTimeProvider(Epoch);
        await using SmdSsNode node = NewNode(_scratch.Sub("data"), time, o =>
        {
            o.MaxMemoryBytes = 1 << 20;
            o.FsyncPolicy = FsyncPolicy.Never;
        });
        await node.StartAsync();
        for (int i = 0; i < 13; i++)
        {
            await node.SetAsync($"old-{i}", Value(64 << 10, i));
        }

        for (int i = 0; i < 13; i++)
        {
            Assert.NotNull(await node.GetAsync($"old-{i}"));
        }

        for (int i = 0; i < 3; i++)
        {
            await node.SetAsync($"new-{i}", Value(64 << 10, 100 + i));
        }

        // Eviction runs off the caller's thread: wait for the pass.
        FlatFileStore store = node.Store!;
        await Eventually.TrueAsync(() => store.Evictions > 0 && store.Memory.UsedBytes <= store.Memory.LimitBytes, TimeSpan.FromSeconds(10), "an eviction pass brought memory under the limit");
        var inMemory = store.SliceStores.SelectMany(s => s.Entries).Where(e => e.ValueInMemory is not null).Select(e => e.Key).ToHashSet();
        string[] newKeysEvicted = [.. Enumerable.Range(0, 3).Select(i => $"new-{i}").Where(k => !inMemory.Contains(k))];
        Assert.True(
            newKeysEvicted.Length == 0,
            $"just-written values evicted before values read earlier: [{string.Join(", ", newKeysEvicted)}]; old-0 in memory: {inMemory.Contains("old-0")}");
    }
}
