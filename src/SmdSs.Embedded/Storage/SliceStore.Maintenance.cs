using System.Text;
using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>Replay on start, and the background jobs: touch flushing, expiry sweeps, compaction.</summary>
internal sealed partial class SliceStore
{
    /// <summary>
    /// Replays the file into the index (last writer wins by version), drops entries expired for
    /// good at <paramref name="nowMs"/>, and repairs damage: a torn tail is cut off, damage in
    /// the middle is removed by compacting the file. Collects the operation answers of records
    /// versioned at or after <paramref name="answersSinceMs"/>.
    /// </summary>
    public SliceLoadReport Load(long nowMs, long answersSinceMs = 0)
    {
        int records = 0;
        var answers = new List<(long Version, OperationAnswer Answer)>();
        var newestAnswered = new Dictionary<string, (long Version, IReadOnlyList<OperationAnswer> Answers)>(StringComparer.Ordinal);
        List<ReplayDamage> damage;
        lock (_fileLock)
        {
            using (Stream stream = _file.OpenForReplay())
            {
                damage = SliceFileReader.Replay(stream, _maxBodyBytes, (record, offset, length) =>
                {
                    records++;
                    ApplyReplayed(record, offset, length);
                    if (record.Answers is { } held && HybridTimestamp.PhysicalMsOf(record.Version) >= answersSinceMs)
                    {
                        answers.AddRange(held.Select(a => (record.Version, a)));
                        if (!newestAnswered.TryGetValue(record.Key, out var known) || known.Version < record.Version)
                        {
                            newestAnswered[record.Key] = (record.Version, held);
                        }
                    }
                });
            }

            // A sliding entry stays: a read on another node may have renewed it while this one
            // was down; its primary deletes it if not.
            foreach (StoredEntry expired in _index.Values.Where(e => e.IsExpiredForGoodAt(nowMs)).ToList())
            {
                DropLocked(expired);
            }

            PruneTombstones(nowMs);
            if (damage.Count == 1 && damage[0].AtTail)
            {
                _file.Truncate(damage[0].Offset);
            }
            else if (damage.Count > 0)
            {
                CompactLocked(nowMs);
            }
        }

        // The answers of each key's newest record: the operations that may not have reached the
        // other replicas when the node stopped (each write carried those of its key still in doubt).
        List<(string Key, long Version, IReadOnlyList<OperationAnswer> Answers)> newest = [.. newestAnswered
            .Where(k => k.Value.Version == NewestVersionOf(k.Key))
            .Select(k => (k.Key, k.Value.Version, k.Value.Answers))];
        // In version order (an older tombstone may follow a newer value in the file): a later
        // record's answer of an operation is the one its history holds.
        List<(long Version, OperationAnswer Answer)> inVersionOrder = [.. answers.OrderBy(a => a.Version)];
        return new SliceLoadReport(_file.Path, records, _index.Count, damage, inVersionOrder, newest);
    }

    /// <summary>
    /// Appends one Touch record per entry whose sliding deadline moved, and returns the ones a
    /// read on this node moved (the node sends those to the other replicas; touches that came
    /// from another replica are only persisted here).
    /// </summary>
    public List<StorageRecord> FlushTouches()
    {
        if (_touched.IsEmpty && _persistOnlyTouches.IsEmpty)
        {
            return [];
        }

        var local = new List<StorageRecord>();
        lock (_fileLock)
        {
            if (_retired)
            {
                return [];
            }

            using var batch = new MemoryStream();
            foreach (string key in _touched.Keys)
            {
                _touched.TryRemove(key, out _);
                if (_index.TryGetValue(key, out StoredEntry? entry) && entry.SlidingMs > 0)
                {
                    var touch = new StorageRecord(RecordKind.Touch, key, entry.Version, entry.Expiry, []);
                    local.Add(touch);
                    batch.Write(RecordCodec.Encode(RecordKind.Touch, key, entry.Version, entry.Expiry, []));
                }
            }

            foreach (string key in _persistOnlyTouches.Keys)
            {
                _persistOnlyTouches.TryRemove(key, out _);
                if (_index.TryGetValue(key, out StoredEntry? entry) && entry.SlidingMs > 0)
                {
                    batch.Write(RecordCodec.Encode(RecordKind.Touch, key, entry.Version, entry.Expiry, []));
                }
            }

            if (batch.Length > 0)
            {
                _file.Append(batch.GetBuffer().AsSpan(0, (int)batch.Length));
            }
        }

        return local;
    }

    /// <summary>
    /// The entries expired at <paramref name="nowMs"/> that reads noted since the last call, and
    /// with <paramref name="sweep"/> every other expired one, at most <paramref name="max"/>.
    /// Nothing is dropped here: the primary deletes them (a replicated write), which is how they
    /// leave every replica.
    /// </summary>
    public List<StoredEntry> TakeExpired(long nowMs, bool sweep, int max = int.MaxValue)
    {
        var expired = new List<StoredEntry>();
        foreach (string key in _expiredSeen.Keys)
        {
            if (expired.Count >= max)
            {
                return expired;
            }

            _expiredSeen.TryRemove(key, out _);
            if (!sweep && _index.TryGetValue(key, out StoredEntry? entry) && entry.IsExpiredAt(nowMs))
            {
                expired.Add(entry);
            }
        }

        if (sweep)
        {
            expired.AddRange(_index.Values.Where(e => e.IsExpiredAt(nowMs)).Take(max));
        }

        return expired;
    }

    /// <summary>Forgets the expiries reads noted (this node does not lead the slice: its primary expires entries).</summary>
    public void ForgetNotedExpiries() => _expiredSeen.Clear();

    /// <summary>
    /// A replica's expiry of its own copy: drops entries expired for good at
    /// <paramref name="nowMs"/> (every copy agrees on their deadline; a tombstone at their
    /// version keeps an older copy out), and, as a safety net, sliding entries whose deadline
    /// here passed before <paramref name="slidingCutoffMs"/> (by then the primary's delete has
    /// come, or this copy lags renewals: no tombstone, so anti-entropy brings a live entry back).
    /// Returns how many.
    /// </summary>
    public int DropExpiredHere(long nowMs, long slidingCutoffMs)
    {
        int dropped = 0;
        lock (_fileLock)
        {
            foreach (StoredEntry entry in _index.Values.Where(e => e.IsExpiredForGoodAt(nowMs) || e.IsExpiredAt(slidingCutoffMs)).ToList())
            {
                DropLocked(entry);
                if (entry.IsExpiredForGoodAt(nowMs))
                {
                    NoteTombstone(entry.Key, entry.Version);
                }

                dropped++;
            }
        }

        return dropped;
    }

    /// <summary>
    /// The primary's expiry of an entry with no sliding window: every copy agrees on its
    /// deadline, so each drops it on its own (a tombstone at its version keeps an older copy
    /// out); no delete needs to travel. True when it was still this entry and dropped.
    /// </summary>
    public bool DropExpiredForGood(StoredEntry entry, long nowMs)
    {
        lock (_fileLock)
        {
            if (!entry.Expiry.IsExpiredForGoodAt(nowMs) || !_index.TryGetValue(entry.Key, out StoredEntry? current) || !ReferenceEquals(current, entry))
            {
                return false;
            }

            DropLocked(entry);
            NoteTombstone(entry.Key, entry.Version);
            return true;
        }
    }

    public bool NeedsCompaction(long deadBytesThreshold)
    {
        if (_retired)
        {
            return false;
        }

        long dead = DeadFileBytes;
        return dead >= deadBytesThreshold && dead * 2 >= _file.Length;
    }

    /// <summary>
    /// Rewrites the file with only the live entries and the retained tombstones. Returns the bytes
    /// reclaimed. An entry expired for good is dropped; a sliding one whose deadline here has
    /// passed is kept (a read elsewhere may have renewed it; its primary deletes it otherwise).
    /// </summary>
    public long Compact(long nowMs)
    {
        lock (_fileLock)
        {
            return CompactLocked(nowMs);
        }
    }

    private long CompactLocked(long nowMs)
    {
        long before = _file.Length;
        foreach (StoredEntry expired in _index.Values.Where(e => e.IsExpiredForGoodAt(nowMs)).ToList())
        {
            DropLocked(expired);
        }

        PruneTombstones(nowMs);
        // In file order, so that the new file keeps the old one's order (and a run replays the same).
        List<StoredEntry> live = [.. _index.Values.OrderBy(e => e.RecordOffset)];
        List<KeyValuePair<string, long>> deletes = [.. _tombstones.Where(t => !_index.TryGetValue(t.Key, out StoredEntry? e) || e.Version < t.Value).OrderBy(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal)];
        long[] offsets = new long[live.Count];
        _file.Rewrite(side =>
        {
            for (int i = 0; i < live.Count; i++)
            {
                StoredEntry entry = live[i];
                offsets[i] = side.Position;
                byte[] value = entry.ValueInMemory ?? ReadFromFileLocked(entry);
                // The current expiry (a sliding deadline moved by Touch records, which compaction
                // drops) and, for a v2 record, the answers it carries: the same length as before.
                side.Write(RecordCodec.Encode(RecordKind.Put, entry.Key, entry.Version, entry.Expiry, value, entry.CarriesAnswers ? ReadAnswersLocked(entry) : null));
            }

            foreach ((string key, long version) in deletes)
            {
                side.Write(RecordCodec.Encode(RecordKind.Delete, key, version, EntryExpiry.None, []));
            }
        });

        for (int i = 0; i < live.Count; i++)
        {
            live[i].RecordOffset = offsets[i];
        }

        Interlocked.Exchange(ref _liveFileBytes, _file.Length);
        return before - _file.Length;
    }

    /// <summary>The newest version this slice knows of <paramref name="key"/>: of its live entry or of a delete (0: none).</summary>
    public long NewestVersionOf(string key) =>
        Math.Max(_index.TryGetValue(key, out StoredEntry? entry) ? entry.Version : 0, _tombstones.GetValueOrDefault(key));

    private bool IsDeletedAt(string key, long version) => _tombstones.TryGetValue(key, out long deleted) && deleted >= version;

    private byte[] ReadFromFileLocked(StoredEntry entry)
    {
        byte[] value = GC.AllocateUninitializedArray<byte>(entry.ValueLength);
        _file.Read(entry.RecordOffset + RecordCodec.ValueOffset(entry.KeyBytes), value);
        return value;
    }

    private byte[] ReadRecordLocked(StoredEntry entry)
    {
        byte[] record = GC.AllocateUninitializedArray<byte>(entry.RecordLength);
        _file.Read(entry.RecordOffset, record);
        return record;
    }

    /// <summary>The answers the entry's record carries, read back from the file; null for a v1 record.</summary>
    private IReadOnlyList<OperationAnswer>? ReadAnswersLocked(StoredEntry entry) =>
        entry.CarriesAnswers && RecordCodec.TryDecode(ReadRecordLocked(entry), _maxBodyBytes, out StorageRecord? record, out _) == DecodeStatus.Ok
            ? record!.Answers
            : null;

    private void ApplyReplayed(StorageRecord record, long offset, int length)
    {
        _index.TryGetValue(record.Key, out StoredEntry? old);
        switch (record.Kind)
        {
            case RecordKind.Put when (old is null || old.Version < record.Version) && !IsDeletedAt(record.Key, record.Version):
                int keyBytes = Encoding.UTF8.GetByteCount(record.Key);
                var entry = new StoredEntry(record.Key, record.Version, record.Expiry, record.Value, offset, length, keyBytes);
                _index[record.Key] = entry;
                Interlocked.Add(ref _liveFileBytes, length - (old?.RecordLength ?? 0));
                _memory.Add(entry.MemoryBytes - (old?.MemoryBytes ?? 0));
                break;
            case RecordKind.Delete:
                NoteTombstone(record.Key, record.Version);
                if (old is not null && old.Version < record.Version)
                {
                    DropLocked(old);
                }

                break;
            case RecordKind.Touch when old is not null && old.Version == record.Version:
                old.ExtendDeadline(record.Expiry.DeadlineMs);
                break;
        }
    }
}
