using System.Text;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;
using SmdSs.Tests.Support;
using static SmdSs.Tests.Storage.StorageTestSupport;

namespace SmdSs.Tests.Storage;

/// <summary>
/// Storage for self-healing: tombstones survive restarts and compaction for their retention
/// (a returning replica catches up on deletes from them) and are purged after it; a delta holds
/// exactly what changed; a store splits into the halves of its slice without losing anything.
/// </summary>
public sealed class SliceSplitAndTombstoneTests : IDisposable
{
    private readonly TempDirectory _scratch = new();

    private string SlicesPath => _scratch.Sub("slices");

    private static long V(long ms) => ms << 16;

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void Tombstones_survive_compaction_and_restart_within_retention_and_are_purged_after_it()
    {
        Directory.CreateDirectory(SlicesPath);
        using (SliceStore store = OpenWholeSlice(SlicesPath))
        {
            store.Load(EpochMs);
            store.Put("kept", V(EpochMs), EntryExpiry.None, [1]);
            store.Put("deleted", V(EpochMs), EntryExpiry.None, [2]);
            store.Delete("deleted", V(EpochMs + 1));
            store.Compact(EpochMs + 2);
        }

        using (SliceStore reopened = OpenWholeSlice(SlicesPath))
        {
            reopened.Load(EpochMs + 3);
            Assert.False(reopened.Put("deleted", V(EpochMs), EntryExpiry.None, [3]));
            Assert.Contains(reopened.ChangesSince(V(EpochMs + 1), EpochMs + 3), r => r.Kind == RecordKind.Delete && r.Key == "deleted");

            long afterRetention = EpochMs + StoreSettings.DefaultTombstoneRetentionMs + 10;
            reopened.PruneTombstones(afterRetention);
            reopened.Compact(afterRetention);
        }

        byte[] file = File.ReadAllBytes(Path.Combine(SlicesPath, SliceFileName));
        Assert.DoesNotContain(Replay(file).Records, r => r.Record.Kind == RecordKind.Delete);
    }

    [Fact]
    public void A_delta_holds_newer_entries_newer_deletes_and_touches_of_older_sliding_entries_only()
    {
        Directory.CreateDirectory(SlicesPath);
        using SliceStore store = OpenWholeSlice(SlicesPath);
        store.Load(EpochMs);
        long since = V(EpochMs + 100);
        store.Put("old", V(EpochMs), EntryExpiry.None, [1]);
        store.Put("new", V(EpochMs + 200), EntryExpiry.None, [2]);
        store.Put("old-deleted", V(EpochMs), EntryExpiry.None, [3]);
        store.Delete("old-deleted", V(EpochMs + 150));
        store.Put("read-lately", V(EpochMs), new EntryExpiry(0, 60_000, EpochMs + 60_000), [4]);
        Assert.True(store.TryGet("read-lately", out StoredEntry entry));
        entry.ExtendDeadline(EpochMs + 300 + 60_000);

        var delta = store.ChangesSince(since, EpochMs + 400).ToDictionary(r => r.Key, r => r.Kind);

        Assert.Equal(new Dictionary<string, RecordKind> { ["new"] = RecordKind.Put, ["old-deleted"] = RecordKind.Delete, ["read-lately"] = RecordKind.Touch }, delta);
    }

    [Fact]
    public void An_expired_entry_stays_until_its_primary_deletes_it_and_the_delete_keeps_an_older_copy_out()
    {
        Directory.CreateDirectory(SlicesPath);
        using SliceStore store = OpenWholeSlice(SlicesPath);
        store.Load(EpochMs);
        store.Put("k", V(EpochMs + 10), new EntryExpiry(EpochMs + 1_000, 0, EpochMs + 1_000), [2]);
        store.Put("sliding", V(EpochMs + 10), new EntryExpiry(0, 500, EpochMs + 500), [3]);
        store.NoteExpired("k");

        Assert.Equal(["k"], store.TakeExpired(EpochMs + 2_000, sweep: false).Select(e => e.Key));
        Assert.Equal(["k", "sliding"], store.TakeExpired(EpochMs + 2_000, sweep: true).Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.True(store.TryGet("k", out _), "only the primary's delete removes an expired entry");

        // The primary's expiry is a Delete at a newer version.
        Assert.True(store.Delete("k", V(EpochMs + 2_000)));
        Assert.False(store.Put("k", V(EpochMs + 10), new EntryExpiry(EpochMs + 1_000, 0, EpochMs + 1_000), [2]));
        Assert.Contains(store.ChangesSince(V(EpochMs + 5), EpochMs + 2_000), r => r.Kind == RecordKind.Delete && r.Key == "k" && r.Version == V(EpochMs + 2_000));
    }

    [Fact]
    public void A_touch_moves_the_deadline_the_primary_holds_only_when_the_primary_sent_or_acknowledged_it()
    {
        Directory.CreateDirectory(SlicesPath);
        using SliceStore store = OpenWholeSlice(SlicesPath);
        store.Load(EpochMs);
        store.Put("s", V(EpochMs), new EntryExpiry(0, 10_000, EpochMs + 10_000), [1]);
        Assert.True(store.TryGet("s", out StoredEntry entry));

        Assert.True(store.ApplyTouch("s", V(EpochMs), EpochMs + 12_000, fromPrimary: false));
        Assert.Equal((EpochMs + 12_000, EpochMs + 10_000), (entry.DeadlineMs, entry.PrimaryDeadlineMs));

        store.ConfirmTouches([new StorageRecord(RecordKind.Touch, "s", V(EpochMs), new EntryExpiry(0, 10_000, EpochMs + 12_000), [])]);
        Assert.Equal(EpochMs + 12_000, entry.PrimaryDeadlineMs);

        Assert.True(store.ApplyTouch("s", V(EpochMs), EpochMs + 13_000, fromPrimary: true));
        Assert.Equal((EpochMs + 13_000, EpochMs + 13_000), (entry.DeadlineMs, entry.PrimaryDeadlineMs));

        // A primary does not bring back an entry that already expired on its clock.
        Assert.False(store.ApplyTouch("s", V(EpochMs), EpochMs + 30_000, refuseExpiredAtMs: EpochMs + 13_000));
        Assert.False(store.ApplyTouch("s", V(EpochMs + 1), EpochMs + 30_000), "another version");
        Assert.Equal(EpochMs + 13_000, entry.DeadlineMs);
    }

    [Fact]
    public void A_split_store_keeps_every_entry_and_tombstone_in_the_right_half_and_across_a_restart()
    {
        var ranges = new[] { SliceRange.Whole };
        using (var store = new FlatFileStore(Settings(SlicesPath)))
        {
            store.Open(ranges, EpochMs);
            for (int i = 0; i < 500; i++)
            {
                store.Apply(new StorageRecord(RecordKind.Put, "k" + i, V(EpochMs), EntryExpiry.None, Encoding.UTF8.GetBytes("v" + i)));
            }

            store.Apply(new StorageRecord(RecordKind.Delete, "k7", V(EpochMs + 1), EntryExpiry.None, []));
            SliceStore whole = store.SliceFor(0);
            (SliceRange low, SliceRange high) = SliceRange.Whole.SplitAt(SliceRange.Whole.Midpoint);

            Assert.Equal(1, store.Reshape([low, high], EpochMs + 2));

            Assert.True(whole.IsRetired);
            Assert.Throws<SliceRetiredException>(() => whole.Put("late", V(EpochMs + 3), EntryExpiry.None, [1]));
            Assert.True(store.Apply(new StorageRecord(RecordKind.Put, "late", V(EpochMs + 3), EntryExpiry.None, [1])));
            Assert.Equal(500, store.Count);
            foreach (SliceStore half in store.SliceStores)
            {
                Assert.All(half.Entries, e => Assert.True(half.Range.Contains(KeyHash.Of(e.Key))));
            }

            store.Maintain(EpochMs + 4, sync: true);
            store.Maintain(EpochMs + 5, sync: true);
            Assert.False(File.Exists(Path.Combine(SlicesPath, SliceFile.NameOf(SliceRange.Whole))));
            Assert.False(store.Apply(new StorageRecord(RecordKind.Put, "k7", V(EpochMs), EntryExpiry.None, [9])));
        }

        (SliceRange a, SliceRange b) = SliceRange.Whole.SplitAt(SliceRange.Whole.Midpoint);
        using var reopened = new FlatFileStore(Settings(SlicesPath));
        reopened.Open([a, b], EpochMs + 6);
        Assert.Equal(500, reopened.Count);
        Assert.False(reopened.SliceFor(KeyHash.Of("k7")).TryGet("k7", out _));
        Assert.True(reopened.SliceFor(KeyHash.Of("k499")).TryGet("k499", out _));
    }
}
