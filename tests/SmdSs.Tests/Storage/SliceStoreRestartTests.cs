using SmdSs.Model;
using SmdSs.Storage;
using static SmdSs.Tests.Storage.StorageTestSupport;

using SmdSs.Tests.Support;

namespace SmdSs.Tests.Storage;

/// <summary>
/// A slice store reopened from its file holds exactly what it held before (key → value, version,
/// expiry), minus what expired; damage found on load costs only the damaged records and is repaired.
/// </summary>
public sealed class SliceStoreRestartTests : IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Theory]
    [InlineData(1, FsyncPolicy.Never)]
    [InlineData(2, FsyncPolicy.EverySecond)]
    [InlineData(3, FsyncPolicy.Always)]
    public void Random_puts_deletes_and_overwrites_survive_a_restart_exactly(int seed, FsyncPolicy policy)
    {
        var random = new Random(seed);
        long now = EpochMs;
        long loadNow = now + 5_000;
        var model = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        string[] keys = [.. Enumerable.Range(0, 250).Select(i => i % 7 == 0 ? $"ключ-{i}-🔑" : $"k{i}")];
        long version = 1_000;
        int recordsWritten = 0;
        var deletes = new Dictionary<string, long>(StringComparer.Ordinal);

        var memory = new MemoryBudget(long.MaxValue);
        using (SliceStore store = OpenWholeSlice(_scratch.Path, memory, policy))
        {
            Assert.Empty(store.Load(now).Damage);
            int operations = policy == FsyncPolicy.Always ? 600 : 3_000;
            for (int op = 0; op < operations; op++)
            {
                int dice = random.Next(100);
                string key = dice >= 85 && model.Count > 0 ? model.Keys.ElementAt(random.Next(model.Count)) : keys[random.Next(keys.Length)];
                bool exists = model.TryGetValue(key, out ModelEntry? old);
                long v = exists && random.Next(10) == 0 ? old!.Version - random.Next(2) : ++version; // sometimes stale
                bool expected = !exists || old!.Version < v;
                if (dice is >= 60 and < 85)
                {
                    Assert.Equal(exists && expected, store.Delete(key, v));
                    // A Delete record is written when it drops the key or is the newest delete of it.
                    bool newest = !deletes.TryGetValue(key, out long deletedAt) || deletedAt < v;
                    if ((exists && expected) || newest)
                    {
                        recordsWritten++;
                    }

                    deletes[key] = Math.Max(deletedAt, v);
                    if (exists && expected)
                    {
                        model.Remove(key);
                    }
                }
                else
                {
                    EntryExpiry expiry = RandomExpiry(random, now);
                    byte[] value = RandomValue(random, random.Next(20) == 0 ? 5_000 : random.Next(300));
                    Assert.Equal(expected, store.Put(key, v, expiry, value));
                    if (expected)
                    {
                        model[key] = new ModelEntry(value, v, expiry);
                        recordsWritten++;
                    }
                }
            }

            AssertSameContent(model, Snapshot([store]), "before restart");
            AssertAccounting(store, memory);
        }

        // Sliding entries stay past their deadline here (a read on another node may have renewed
        // them; their primary deletes them); the rest are dropped.
        var expectedAfterLoad = model.Where(p => !p.Value.Expiry.IsExpiredForGoodAt(loadNow)).ToDictionary();
        Assert.True(expectedAfterLoad.Count < model.Count, "some entries must expire between write and restart");
        Assert.True(expectedAfterLoad.Count > 50, "most entries must survive");

        for (int restart = 1; restart <= 2; restart++)
        {
            var reopenedMemory = new MemoryBudget(long.MaxValue);
            using SliceStore reopened = OpenWholeSlice(_scratch.Path, reopenedMemory);
            SliceLoadReport report = reopened.Load(loadNow);

            Assert.Empty(report.Damage);
            Assert.Equal(expectedAfterLoad.Count, report.EntriesLive);
            if (restart == 1)
            {
                Assert.Equal(recordsWritten, report.RecordsRead);
            }

            AssertSameContent(expectedAfterLoad, Snapshot([reopened]), $"after restart {restart}");
            AssertAccounting(reopened, reopenedMemory);
        }
    }

    [Fact]
    public void A_torn_tail_is_cut_off_and_everything_before_it_kept()
    {
        var model = WriteDistinctKeys(30, out long[] ends);
        string path = Path.Combine(_scratch.Path, SliceFileName);
        byte[] torn = RecordCodec.Encode(RecordKind.Put, "torn", 999, EntryExpiry.None, Value(100, 9));
        using (var file = new FileStream(path, FileMode.Append))
        {
            file.Write(torn.AsSpan(0, 70));
        }

        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            SliceLoadReport report = store.Load(EpochMs);

            Assert.Equal([new ReplayDamage(ends[^1], 70, AtTail: true)], report.Damage);
            Assert.Equal(ends[^1], store.FileBytes);
            AssertSameContent(model, Snapshot([store]), "after load");
        }

        Assert.Equal(ends[^1], new FileInfo(path).Length);
        AssertCleanReload(model);
    }

    [Fact]
    public void A_corrupted_middle_record_is_dropped_alone_and_the_file_compacted()
    {
        var model = WriteDistinctKeys(30, out long[] ends);
        string path = Path.Combine(_scratch.Path, SliceFileName);
        const int k = 12;
        byte[] bytes = File.ReadAllBytes(path);
        bytes[ends[k - 1] + 30] ^= 0x08; // inside record k's body
        File.WriteAllBytes(path, bytes);
        model.Remove($"key-{k}");

        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            SliceLoadReport report = store.Load(EpochMs);

            Assert.Equal([new ReplayDamage(ends[k - 1], ends[k] - ends[k - 1], AtTail: false)], report.Damage);
            AssertSameContent(model, Snapshot([store]), "after load");
            Assert.Equal(0, store.DeadFileBytes);
        }

        Assert.Equal(ends[^1] - (ends[k] - ends[k - 1]), new FileInfo(path).Length);
        AssertCleanReload(model);
    }

    [Fact]
    public void A_corrupted_newer_version_falls_back_to_the_older_version()
    {
        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(EpochMs);
            store.Put("a", 1, EntryExpiry.None, Value(10, 1));
            store.Put("b", 2, EntryExpiry.None, Value(10, 2));
            store.Put("a", 3, EntryExpiry.None, Value(10, 3));
            store.Put("c", 4, EntryExpiry.None, Value(10, 4));
        }

        string path = Path.Combine(_scratch.Path, SliceFileName);
        byte[] bytes = File.ReadAllBytes(path);
        int third = 2 * RecordCodec.EncodedLength(1, 10);
        bytes[third + RecordCodec.HeaderBytes + 5] ^= 0x01; // the version of a@3
        File.WriteAllBytes(path, bytes);

        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        reopened.Load(EpochMs);

        var content = Snapshot([reopened]);
        Assert.Equal(1, content["a"].Version);
        Assert.Equal(Value(10, 1), content["a"].Value);
        Assert.Equal(["a", "b", "c"], content.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_damaged_length_field_in_a_middle_record_costs_only_that_record()
    {
        // The damaged length stays under the body limit but points past the end of the file.
        var model = WriteDistinctKeys(30, out long[] ends);
        string path = Path.Combine(_scratch.Path, SliceFileName);
        const int k = 10;
        byte[] bytes = File.ReadAllBytes(path);
        bytes[ends[k - 1] + 6] ^= 0x01; // body length + 64 KiB
        File.WriteAllBytes(path, bytes);
        model.Remove($"key-{k}");

        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(EpochMs);
            AssertSameContent(model, Snapshot([store]), "after load");
        }

        AssertCleanReload(model);
    }

    [Fact]
    public void Entries_expired_at_load_are_dropped_and_count_as_dead_bytes()
    {
        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(EpochMs);
            store.Put("expires", 1, new EntryExpiry(EpochMs + 100, 0, EpochMs + 100), Value(50, 1));
            store.Put("stays", 2, new EntryExpiry(EpochMs + 10_000, 0, EpochMs + 10_000), Value(50, 2));
        }

        var memory = new MemoryBudget(long.MaxValue);
        using SliceStore reopened = OpenWholeSlice(_scratch.Path, memory);
        SliceLoadReport report = reopened.Load(EpochMs + 100);

        Assert.Equal(2, report.RecordsRead);
        Assert.Equal(1, report.EntriesLive);
        Assert.False(reopened.TryGet("expires", out _));
        Assert.True(reopened.TryGet("stays", out _));
        Assert.Equal(RecordCodec.EncodedLength("expires".Length, 50), reopened.DeadFileBytes);
        AssertAccounting(reopened, memory);
    }

    private static EntryExpiry RandomExpiry(Random random, long now)
    {
        switch (random.Next(10))
        {
            case < 5:
                return EntryExpiry.None;
            case < 7:
                long absolute = now + random.Next(1, 10_000); // about half expire before the restart at now + 5 s
                return new EntryExpiry(absolute, 0, absolute);
            case < 9:
                long sliding = random.Next(1_000, 60_000);
                long cap = random.Next(2) == 0 ? 0 : now + 120_000;
                return new EntryExpiry(cap, sliding, new EntryExpiry(cap, sliding, 0).SlideAt(now));
            default:
                long far = now + 3_600_000;
                return new EntryExpiry(far, 0, far);
        }
    }

    private static void AssertAccounting(SliceStore store, MemoryBudget memory)
    {
        Assert.Equal(store.Entries.Sum(e => e.MemoryBytes) + store.TombstoneMemoryBytes, memory.UsedBytes);
        Assert.Equal(store.FileBytes - store.Entries.Sum(e => (long)e.RecordLength), store.DeadFileBytes);
    }

    /// <summary>Writes key-0..key-(n-1) once each; <paramref name="ends"/>[i] is where record i ends.</summary>
    private Dictionary<string, ModelEntry> WriteDistinctKeys(int count, out long[] ends)
    {
        var model = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        ends = new long[count];
        using SliceStore store = OpenWholeSlice(_scratch.Path);
        store.Load(EpochMs);
        for (int i = 0; i < count; i++)
        {
            var expiry = i % 3 == 0 ? new EntryExpiry(EpochMs + 60_000, 0, EpochMs + 60_000) : EntryExpiry.None;
            byte[] value = Value(20 + (i * 17 % 90), i);
            Assert.True(store.Put($"key-{i}", 10 + i, expiry, value));
            model[$"key-{i}"] = new ModelEntry(value, 10 + i, expiry);
            ends[i] = store.FileBytes;
        }

        return model;
    }

    private void AssertCleanReload(Dictionary<string, ModelEntry> model)
    {
        using SliceStore store = OpenWholeSlice(_scratch.Path);
        SliceLoadReport report = store.Load(EpochMs);
        Assert.Empty(report.Damage);
        AssertSameContent(model, Snapshot([store]), "second restart");
    }
}
