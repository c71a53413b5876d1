using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Model;
using SmdSs.Storage;
using static SmdSs.Tests.Storage.StorageTestSupport;

using SmdSs.Tests.Support;

namespace SmdSs.Tests.Storage;

/// <summary>
/// A read that slides an entry's deadline is persisted by a Touch record; replay applies a Touch
/// only to the same version and only forward.
/// </summary>
public sealed class SlidingTouchPersistenceTests : IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private string SliceFilePath => Path.Combine(_scratch.Path, SliceFileName);

    [Fact]
    public void A_flushed_touch_moves_the_deadline_after_restart()
    {
        long now = EpochMs;
        var sliding = new EntryExpiry(0, 10_000, now + 10_000);
        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(now);
            store.Put("flushed", 5, sliding, [1]);
            store.Put("not-flushed", 6, sliding, [2]);
            Assert.True(store.TryGet("flushed", out StoredEntry? flushed));
            Assert.True(store.TryGet("not-flushed", out StoredEntry? notFlushed));

            // Read at now + 8 s: the deadline slides to now + 18 s.
            Assert.True(flushed.ExtendDeadline(flushed.Expiry.SlideAt(now + 8_000)));
            store.MarkTouched("flushed");
            Assert.Equal("flushed", Assert.Single(store.FlushTouches()).Key);
            Assert.True(notFlushed.ExtendDeadline(notFlushed.Expiry.SlideAt(now + 8_000)));
        }

        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        SliceLoadReport report = reopened.Load(now + 15_000);

        Assert.Equal(3, report.RecordsRead);
        Assert.True(reopened.TryGet("flushed", out StoredEntry? entry));
        Assert.Equal(now + 18_000, entry.DeadlineMs);
        Assert.Equal(5, entry.Version);
        Assert.Equal(10_000, entry.SlidingMs);
        // An unflushed touch does not outlive the process: the entry has the deadline it was
        // written with, passed; it stays for its primary to delete (a replica never drops it).
        Assert.True(reopened.TryGet("not-flushed", out StoredEntry? stale));
        Assert.Equal(now + 10_000, stale.DeadlineMs);
        Assert.True(stale.IsExpiredAt(now + 15_000));
    }

    [Fact]
    public void A_touch_applied_from_a_replica_is_persisted_but_not_returned_for_sending()
    {
        long now = EpochMs;
        var sliding = new EntryExpiry(0, 10_000, now + 10_000);
        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(now);
            store.Put("k", 4, sliding, [1]);
            long length = store.FileBytes;

            Assert.False(store.ApplyTouch("k", 3, now + 40_000)); // another version
            Assert.False(store.ApplyTouch("k", 4, now + 5_000)); // backwards
            Assert.True(store.ApplyTouch("k", 4, now + 30_000));

            Assert.Empty(store.FlushTouches());
            Assert.Equal(length + RecordCodec.EncodedLength(1, 0), store.FileBytes);
        }

        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        reopened.Load(now + 20_000);
        Assert.True(reopened.TryGet("k", out StoredEntry? entry));
        Assert.Equal(now + 30_000, entry.DeadlineMs);
    }

    [Fact]
    public void A_touch_for_an_older_version_is_ignored()
    {
        long now = EpochMs;
        WriteRecords(
            Record(RecordKind.Put, "k", 1, new EntryExpiry(0, 1_000, now + 1_000), [1]),
            Record(RecordKind.Put, "k", 2, new EntryExpiry(0, 1_000, now + 2_000), [2]),
            Record(RecordKind.Touch, "k", 1, new EntryExpiry(0, 1_000, now + 50_000), []));

        using SliceStore store = OpenWholeSlice(_scratch.Path);
        store.Load(now);

        Assert.True(store.TryGet("k", out StoredEntry? entry));
        Assert.Equal(2, entry.Version);
        Assert.Equal(now + 2_000, entry.DeadlineMs);
        Assert.Equal(new byte[] { 2 }, entry.ValueInMemory);
    }

    [Fact]
    public void A_touch_never_moves_a_deadline_back_and_needs_a_live_entry()
    {
        long now = EpochMs;
        WriteRecords(
            Record(RecordKind.Touch, "before-put", 1, new EntryExpiry(0, 1_000, now + 90_000), []),
            Record(RecordKind.Put, "before-put", 1, new EntryExpiry(0, 1_000, now + 1_000), [1]),
            Record(RecordKind.Put, "k", 3, new EntryExpiry(0, 1_000, now + 5_000), [3]),
            Record(RecordKind.Touch, "k", 3, new EntryExpiry(0, 1_000, now + 9_000), []),
            Record(RecordKind.Touch, "k", 3, new EntryExpiry(0, 1_000, now + 7_000), []),
            Record(RecordKind.Put, "gone", 4, new EntryExpiry(0, 1_000, now + 1_000), [4]),
            Record(RecordKind.Delete, "gone", 5, EntryExpiry.None, []),
            Record(RecordKind.Touch, "gone", 4, new EntryExpiry(0, 1_000, now + 90_000), []));

        using SliceStore store = OpenWholeSlice(_scratch.Path);
        SliceLoadReport report = store.Load(now);

        Assert.Empty(report.Damage);
        Assert.Equal(8, report.RecordsRead);
        Assert.True(store.TryGet("k", out StoredEntry? k));
        Assert.Equal(now + 9_000, k.DeadlineMs);
        Assert.True(store.TryGet("before-put", out StoredEntry? early));
        Assert.Equal(now + 1_000, early.DeadlineMs);
        Assert.False(store.TryGet("gone", out _));
    }

    [Fact]
    public void FlushTouches_writes_nothing_for_entries_without_a_sliding_window()
    {
        using SliceStore store = OpenWholeSlice(_scratch.Path);
        store.Load(EpochMs);
        store.Put("absolute", 1, new EntryExpiry(EpochMs + 1_000, 0, EpochMs + 1_000), [1]);
        store.Put("none", 2, EntryExpiry.None, [2]);
        long length = store.FileBytes;

        store.MarkTouched("absolute");
        store.MarkTouched("none");
        store.MarkTouched("missing");

        Assert.Empty(store.FlushTouches());
        Assert.Equal(length, store.FileBytes);
    }

    [Fact]
    public void A_touched_deadline_survives_compaction_and_restart()
    {
        long now = EpochMs;
        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(now);
            store.Put("k", 7, new EntryExpiry(now + 100_000, 10_000, now + 10_000), [7]);
            Assert.True(store.TryGet("k", out StoredEntry? entry));
            entry.ExtendDeadline(entry.Expiry.SlideAt(now + 9_000));
            store.MarkTouched("k");
            store.FlushTouches();
            store.Compact(now + 9_000);

            (var records, _) = ReplayFile(SliceFilePath);
            Assert.Equal(RecordKind.Put, Assert.Single(records).Record.Kind);
        }

        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        reopened.Load(now + 15_000);
        Assert.True(reopened.TryGet("k", out StoredEntry? after));
        Assert.Equal(new EntryExpiry(now + 100_000, 10_000, now + 19_000), after.Expiry);
    }

    [Fact]
    public async Task A_node_read_slides_the_deadline_across_a_restart()
    {
        var time = NewTime();
        string data = _scratch.Sub("data");
        await using (SmdSsNode node = NewNode(data, time, o => o.FsyncPolicy = FsyncPolicy.Never))
        {
            await node.StartAsync();
            await node.SetAsync("session", new byte[] { 1, 2, 3 }, new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(10) });
            await node.SetAsync("unread", new byte[] { 4 }, new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(10) });
            time.Advance(TimeSpan.FromSeconds(8));
            Assert.NotNull(await node.GetAsync("session"));
        }

        time.Advance(TimeSpan.FromSeconds(7)); // 15 s after the write, 7 s after the read
        await using SmdSsNode restarted = NewNode(data, time, o => o.FsyncPolicy = FsyncPolicy.Never);
        await restarted.StartAsync();

        Assert.Equal(new byte[] { 1, 2, 3 }, await restarted.GetAsync("session"));
        Assert.Null(await restarted.GetAsync("unread"));
    }

    private static StorageRecord Record(RecordKind kind, string key, long version, EntryExpiry expiry, byte[] value) =>
        new(kind, key, version, expiry, value);

    private void WriteRecords(params StorageRecord[] records) =>
        File.WriteAllBytes(SliceFilePath, Concat([.. records.Select(r => RecordCodec.Encode(r.Kind, r.Key, r.Version, r.Expiry, r.Value))]));
}
