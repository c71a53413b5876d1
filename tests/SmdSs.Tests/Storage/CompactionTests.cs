using SmdSs.Model;
using SmdSs.Storage;
using static SmdSs.Tests.Storage.StorageTestSupport;

using SmdSs.Tests.Support;

namespace SmdSs.Tests.Storage;

/// <summary>
/// Compaction rewrites a slice file with only its live, unexpired entries: it triggers past the
/// dead-bytes threshold, reclaims the dead bytes, changes no content, and is crash-safe.
/// </summary>
public sealed class CompactionTests : IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private string SliceFilePath => Path.Combine(_scratch.Path, SliceFileName);

    [Fact]
    public void NeedsCompaction_turns_true_once_dead_bytes_pass_the_threshold_and_half_the_file()
    {
        using SliceStore store = OpenWholeSlice(_scratch.Path);
        store.Load(EpochMs);
        long version = 0;
        for (int i = 0; i < 10; i++)
        {
            store.Put($"key-{i}", ++version, EntryExpiry.None, Value(100, i));
        }

        long recordBytes = RecordCodec.EncodedLength("key-0".Length, 100);
        long threshold = 25 * recordBytes;
        Assert.Equal(0, store.DeadFileBytes);
        Assert.False(store.NeedsCompaction(threshold));

        int overwrites = 0;
        while (!store.NeedsCompaction(threshold))
        {
            store.Put($"key-{overwrites % 10}", ++version, EntryExpiry.None, Value(100, overwrites));
            overwrites++;
            Assert.True(overwrites < 1_000, "NeedsCompaction never turned true");
        }

        // Every overwrite kills exactly one old record: 25 of them reach the threshold (and half the file).
        Assert.Equal(25, overwrites);
        Assert.Equal(25 * recordBytes, store.DeadFileBytes);
        Assert.Equal(35 * recordBytes, store.FileBytes);

        // Half the file dead is required too, however low the threshold.
        Assert.True(store.NeedsCompaction(0));
        string other = Directory.CreateDirectory(_scratch.Sub("other")).FullName;
        using SliceStore fresh = OpenWholeSlice(other);
        fresh.Load(EpochMs);
        fresh.Put("a", 1, EntryExpiry.None, Value(100, 1));
        fresh.Put("b", 2, EntryExpiry.None, Value(100, 2));
        fresh.Put("c", 3, EntryExpiry.None, Value(100, 3));
        fresh.Put("a", 4, EntryExpiry.None, Value(100, 4));
        Assert.Equal(RecordCodec.EncodedLength(1, 100), fresh.DeadFileBytes);
        Assert.False(fresh.NeedsCompaction(0));
    }

    [Fact]
    public void Compact_reclaims_the_dead_bytes_and_changes_no_content()
    {
        var random = new Random(31);
        var model = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        var memory = new MemoryBudget(long.MaxValue);
        using SliceStore store = OpenWholeSlice(_scratch.Path, memory);
        store.Load(EpochMs);
        long version = 0;
        for (int i = 0; i < 2_000; i++)
        {
            string key = $"key-{random.Next(60)}";
            if (random.Next(6) == 0)
            {
                if (store.Delete(key, ++version))
                {
                    model.Remove(key);
                }

                continue;
            }

            var expiry = random.Next(2) == 0 ? EntryExpiry.None : new EntryExpiry(0, 30_000, EpochMs + 30_000);
            byte[] value = RandomValue(random, random.Next(500));
            store.Put(key, ++version, expiry, value);
            model[key] = new ModelEntry(value, version, expiry);
        }

        long liveBytes = store.Entries.Sum(e => (long)e.RecordLength);
        long before = store.FileBytes;
        Assert.True(store.NeedsCompaction(1 << 16));

        long reclaimed = store.Compact(EpochMs);

        Assert.Equal(before - liveBytes, reclaimed);
        Assert.Equal(liveBytes, store.FileBytes);
        Assert.Equal(liveBytes, new FileInfo(SliceFilePath).Length);
        Assert.Equal(0, store.DeadFileBytes);
        Assert.False(store.NeedsCompaction(0));
        AssertSameContent(model, Snapshot([store]), "after compaction");
        Assert.Equal(store.Entries.Sum(e => e.MemoryBytes) + store.TombstoneMemoryBytes, memory.UsedBytes);

        // The file now holds one Put per live entry and nothing else.
        (var records, List<ReplayDamage> damage) = ReplayFile(SliceFilePath);
        Assert.Empty(damage);
        Assert.All(records, r => Assert.Equal(RecordKind.Put, r.Record.Kind));
        AssertSameContent(model, Fold(records.Select(r => r.Record)), "file after compaction");
        Assert.Equal(model.Count, records.Count);

        // Writes after compaction append to the new file.
        store.Put("after", ++version, EntryExpiry.None, [1, 2, 3]);
        model["after"] = new ModelEntry([1, 2, 3], version, EntryExpiry.None);
        store.Dispose();
        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        Assert.Empty(reopened.Load(EpochMs).Damage);
        AssertSameContent(model, Snapshot([reopened]), "after restart");
    }

    [Fact]
    public void Evicted_values_are_still_readable_after_compaction()
    {
        var memory = new MemoryBudget(long.MaxValue);
        using SliceStore store = OpenWholeSlice(_scratch.Path, memory);
        store.Load(EpochMs);
        long version = 0;
        for (int round = 0; round < 5; round++)
        {
            for (int i = 0; i < 20; i++)
            {
                store.Put($"key-{i}", ++version, EntryExpiry.None, Value(200 + i, round * 100 + i));
            }
        }

        var evicted = store.Entries.Where(e => int.Parse(e.Key.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture) % 2 == 0).ToList();
        foreach (StoredEntry entry in evicted)
        {
            Assert.Equal(200 + int.Parse(entry.Key.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture), store.EvictValue(entry));
            Assert.Null(entry.ValueInMemory);
        }

        long used = memory.UsedBytes;
        Assert.True(store.Compact(EpochMs) > 0);

        // Compaction moved every record; an evicted value must be read from its new offset.
        foreach (StoredEntry entry in evicted)
        {
            int i = int.Parse(entry.Key.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Null(entry.ValueInMemory);
            Assert.Equal(Value(200 + i, 400 + i), store.ReadValue(entry));
        }

        Assert.Equal(used + evicted.Sum(e => (long)e.ValueLength), memory.UsedBytes);
    }

    [Fact]
    public void Expired_entries_are_gone_from_the_file_after_compaction()
    {
        var memory = new MemoryBudget(long.MaxValue);
        using SliceStore store = OpenWholeSlice(_scratch.Path, memory);
        store.Load(EpochMs);
        for (int i = 0; i < 30; i++)
        {
            long deadline = i % 3 == 0 ? EpochMs + 1_000 : EpochMs + 100_000;
            store.Put($"key-{i}", i + 1, new EntryExpiry(deadline, 0, deadline), Value(64, i));
        }

        long reclaimed = store.Compact(EpochMs + 1_000);

        var live = Enumerable.Range(0, 30).Where(i => i % 3 != 0).Select(i => $"key-{i}").ToHashSet();
        Assert.Equal(live.Order(StringComparer.Ordinal), store.Entries.Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Equal(store.Entries.Sum(e => (long)e.RecordLength), store.FileBytes);
        Assert.Equal(Enumerable.Range(0, 30).Where(i => i % 3 == 0).Sum(i => (long)RecordCodec.EncodedLength($"key-{i}".Length, 64)), reclaimed);
        Assert.Equal(store.Entries.Sum(e => e.MemoryBytes) + store.TombstoneMemoryBytes, memory.UsedBytes);

        (var records, List<ReplayDamage> damage) = ReplayFile(SliceFilePath);
        Assert.Empty(damage);
        Assert.Equal(live.Order(StringComparer.Ordinal), records.Select(r => r.Record.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_leftover_compaction_file_is_deleted_at_open_and_the_original_is_intact()
    {
        string slices = _scratch.Sub("slices");
        Dictionary<string, ModelEntry> model;
        using (var store = new FlatFileStore(Settings(slices)))
        {
            store.Open([SliceRange.Whole], EpochMs);
            SliceStore slice = store.SliceStores[0];
            for (int i = 0; i < 50; i++)
            {
                slice.Put($"key-{i % 20}", i + 1, EntryExpiry.None, Value(100, i));
            }

            model = Snapshot(store.SliceStores);
        }

        // A crash in the middle of compaction: the side file is half written, the rename never happened.
        string path = Path.Combine(slices, SliceFileName);
        byte[] original = File.ReadAllBytes(path);
        using (var file = new SliceFile(OsDisk.Instance, path, FsyncPolicy.Never))
        {
            Assert.Throws<IOException>(() => file.Rewrite(side =>
            {
                side.Write(original.AsSpan(0, 300));
                side.Flush();
                throw new IOException("simulated crash");
            }));
        }

        string leftover = path + ".compact";
        Assert.True(File.Exists(leftover));
        Assert.Equal(original, File.ReadAllBytes(path));

        using (var reopened = new FlatFileStore(Settings(slices)))
        {
            StoreLoadReport report = reopened.Open([SliceRange.Whole], EpochMs);

            Assert.False(File.Exists(leftover));
            Assert.Empty(report.AdoptedFiles);
            Assert.All(report.Slices, s => Assert.Empty(s.Damage));
            AssertSameContent(model, Snapshot(reopened.SliceStores), "after open");
        }

        Assert.Equal(original, File.ReadAllBytes(path));
    }

    [Fact]
    public void Maintain_compacts_a_file_past_the_threshold()
    {
        string slices = _scratch.Sub("slices");
        using var store = new FlatFileStore(Settings(slices, compactionThreshold: 4_096));
        store.Open([SliceRange.Whole], EpochMs);
        SliceStore slice = store.SliceStores[0];
        for (int i = 0; i < 200; i++)
        {
            slice.Put($"key-{i % 5}", i + 1, EntryExpiry.None, Value(100, i));
        }

        Dictionary<string, ModelEntry> before = Snapshot(store.SliceStores);
        store.Maintain(EpochMs, sync: false);

        Assert.Equal(1, store.Compactions);
        Assert.Equal(5 * RecordCodec.EncodedLength("key-0".Length, 100), store.DiskBytes);
        AssertSameContent(before, Snapshot(store.SliceStores), "after maintenance");
    }
}
