using SmdSs.Model;
using SmdSs.Storage;
using static SmdSs.Tests.Storage.StorageTestSupport;

using SmdSs.Tests.Support;

namespace SmdSs.Tests.Storage;

/// <summary>
/// A replica's slice store: records applied from the primary follow last-writer-wins and are
/// persisted like local writes; a wipe empties file and memory; a catch-up keeps deleted keys out.
/// </summary>
public sealed class SliceStoreReplicationTests : IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void Applied_records_follow_last_writer_wins_and_survive_a_restart()
    {
        var random = new Random(51);
        var applied = new List<StorageRecord>();
        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(EpochMs);
            for (int i = 0; i < 1_000; i++)
            {
                string key = $"key-{random.Next(50)}";
                long version = random.Next(1, 400); // out of order, as a catch-up and live writes interleave
                StorageRecord record = random.Next(4) switch
                {
                    0 => new StorageRecord(RecordKind.Delete, key, version, EntryExpiry.None, []),
                    1 => new StorageRecord(RecordKind.Touch, key, version, new EntryExpiry(0, 1_000, EpochMs + random.Next(100_000)), []),
                    _ => new StorageRecord(RecordKind.Put, key, version, new EntryExpiry(0, 1_000, EpochMs + 50_000), RandomValue(random, random.Next(100))),
                };
                store.Apply(record);
                applied.Add(record);
            }

            AssertSameContent(FoldWithTombstones(applied), Snapshot([store]), "live");
            Assert.Empty(store.FlushTouches()); // replica touches are persisted, never sent on
        }

        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        Assert.Empty(reopened.Load(EpochMs).Damage);
        AssertSameContent(FoldWithTombstones(applied), Snapshot([reopened]), "after restart");
    }

    [Fact]
    public void A_put_from_the_primary_of_the_version_held_moves_its_sliding_deadline_to_the_primarys_and_persists_it()
    {
        // A replica back from a stop holds the entry at the deadline it had then; a delta catch-up
        // resends the entry whole, with the deadline renewals elsewhere moved it to since.
        var taken = new EntryExpiry(0, 6_000, EpochMs + 6_000);
        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(EpochMs);
            Assert.True(store.Apply(new StorageRecord(RecordKind.Put, "session", 7, taken, [1])));

            // Not from a record that is not the primary's (a repair's pull, a handoff).
            Assert.False(store.Apply(new StorageRecord(RecordKind.Put, "session", 7, taken with { DeadlineMs = EpochMs + 20_000 }, [1])));
            Assert.True(store.TryGet("session", out StoredEntry? entry));
            Assert.Equal(EpochMs + 6_000, entry.DeadlineMs);

            Assert.False(store.ApplyFromPrimary(new StorageRecord(RecordKind.Put, "session", 7, taken with { DeadlineMs = EpochMs + 20_000 }, [1])));
            Assert.Equal(EpochMs + 20_000, entry.DeadlineMs);
            Assert.Equal(EpochMs + 20_000, entry.PrimaryDeadlineMs);

            // Never back; and another version's deadline is not this one's.
            Assert.False(store.ApplyFromPrimary(new StorageRecord(RecordKind.Put, "session", 7, taken, [1])));
            Assert.False(store.ApplyFromPrimary(new StorageRecord(RecordKind.Put, "session", 6, taken with { DeadlineMs = EpochMs + 90_000 }, [1])));
            Assert.Equal(EpochMs + 20_000, entry.DeadlineMs);
            Assert.Empty(store.FlushTouches()); // persisted, not sent on
        }

        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        reopened.Load(EpochMs);
        Assert.True(reopened.TryGet("session", out StoredEntry? loaded));
        Assert.Equal(EpochMs + 20_000, loaded.DeadlineMs);
    }

    [Fact]
    public void Wipe_empties_the_file_and_gives_the_memory_back()
    {
        var memory = new MemoryBudget(long.MaxValue);
        using (SliceStore store = OpenWholeSlice(_scratch.Path, memory))
        {
            store.Load(EpochMs);
            for (int i = 0; i < 20; i++)
            {
                store.Put($"key-{i}", i + 1, EntryExpiry.None, Value(100, i));
            }

            store.Wipe();

            Assert.Equal(0, store.Count);
            Assert.Equal(0, store.FileBytes);
            Assert.Equal(0, store.DeadFileBytes);
            Assert.Equal(0, memory.UsedBytes);

            store.Put("after-wipe", 100, EntryExpiry.None, [1]);
        }

        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        reopened.Load(EpochMs);
        Assert.Equal(["after-wipe"], reopened.Entries.Select(e => e.Key));
    }

    [Fact]
    public void During_a_catch_up_a_delete_keeps_an_older_put_of_the_snapshot_out()
    {
        using SliceStore store = OpenWholeSlice(_scratch.Path);
        store.Load(EpochMs);
        store.Put("stale", 1, EntryExpiry.None, [1]);

        Assert.True(store.TryBeginCatchUp(epoch: 3, session: 100, full: true));
        Assert.True(store.IsCatchingUp);
        Assert.Equal(0, store.Count);

        // A live delete overtakes the snapshot's older put of the same key.
        Assert.False(store.Apply(new StorageRecord(RecordKind.Delete, "k", 10, EntryExpiry.None, [])));
        Assert.False(store.Apply(new StorageRecord(RecordKind.Put, "k", 9, EntryExpiry.None, [9])));
        Assert.True(store.Apply(new StorageRecord(RecordKind.Put, "k", 11, EntryExpiry.None, [11])));
        Assert.True(store.TryEndCatchUp(3, 100));

        Assert.False(store.IsCatchingUp);
        Assert.Equal(["k"], store.Entries.Select(e => e.Key));
        Assert.Equal(11, Assert.Single(store.Snapshot(EpochMs)).Version);
    }

    [Fact]
    public void A_stale_catch_up_start_cannot_wipe_what_a_newer_session_sent()
    {
        using SliceStore store = OpenWholeSlice(_scratch.Path);
        store.Load(EpochMs);
        Assert.True(store.TryBeginCatchUp(epoch: 5, session: 200, full: true));
        Assert.True(store.IsCatchUpSession(5, 200));
        store.Apply(new StorageRecord(RecordKind.Put, "sent-by-the-newer-session", 11, EntryExpiry.None, [1]));

        // The older session of the same primary, and an earlier primary's, arrive late: refused, nothing wiped.
        Assert.False(store.TryBeginCatchUp(5, 100, full: true));
        Assert.False(store.TryBeginCatchUp(4, 900, full: true));
        Assert.False(store.TryBeginCatchUp(5, 200, full: true));
        Assert.False(store.IsCatchUpSession(5, 100));
        Assert.False(store.TryEndCatchUp(5, 100));
        Assert.Equal(["sent-by-the-newer-session"], store.Entries.Select(e => e.Key));
        Assert.True(store.IsCatchingUp);

        Assert.True(store.TryEndCatchUp(5, 200));
        Assert.False(store.IsCatchUpSession(5, 200));
        // A later primary's session starts, also with a lower session number of its own clock.
        Assert.True(store.TryBeginCatchUp(6, 50, full: false));
        Assert.Equal(["sent-by-the-newer-session"], store.Entries.Select(e => e.Key));
    }
}
