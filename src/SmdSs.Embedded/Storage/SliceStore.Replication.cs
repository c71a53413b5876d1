using System.Collections.Concurrent;
using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>What a replica does with the records its primary sends: writes, catch-up sessions, wipes.</summary>
internal sealed partial class SliceStore
{
    // Deletes, also of keys not (yet) here: records of one key can arrive out of order (two
    // connections, a catch-up), and an older Put must not bring a deleted key back. Kept for the
    // tombstone retention after the delete's version time, in the file too (compaction keeps
    // them), because a replica back from a restart catches up on the deletes it missed from them.
    private readonly ConcurrentDictionary<string, long> _tombstones = new(StringComparer.Ordinal);
    private volatile bool _catchingUp;
    private (long Epoch, long Session) _catchUpSession;

    /// <summary>Applies one record from the primary, last writer wins by version. True when it changed something.</summary>
    public bool Apply(StorageRecord record)
    {
        switch (record.Kind)
        {
            case RecordKind.Put:
                return Put(record.Key, record.Version, record.Expiry, record.Value, record.Answers);
            case RecordKind.Delete:
                return Delete(record.Key, record.Version, record.Answers);
            case RecordKind.Touch:
                return ApplyTouch(record.Key, record.Version, record.Expiry.DeadlineMs);
            default:
                return false;
        }
    }

    /// <summary>
    /// Applies a record the slice's primary sent (a replicated write, a catch-up's), as
    /// <see cref="Apply"/>; a Put of the version held takes the primary's sliding deadline, which
    /// may have moved since this copy took it (renewals it missed while away: a delta catch-up
    /// resends every entry at or after its base whole). Never for a record that is not the
    /// primary's (a repair's pull, a handoff): its deadline is no renewal the primary holds.
    /// </summary>
    public bool ApplyFromPrimary(StorageRecord record)
    {
        if (Apply(record))
        {
            return true;
        }

        if (record.Kind == RecordKind.Put && record.Expiry.HasSliding)
        {
            ApplyTouch(record.Key, record.Version, record.Expiry.DeadlineMs);
        }

        return false;
    }

    /// <summary>
    /// Moves the deadline of the entry with this version (a read elsewhere slid it), and persists
    /// it. <paramref name="fromPrimary"/>: the slice's primary sent it, so it holds that deadline.
    /// <paramref name="refuseExpiredAtMs"/>: the primary's clock, when this node is the primary
    /// (an entry that already expired here stays expired; see <see cref="SlidingRenewal"/>).
    /// <paramref name="relay"/>: this node is the primary and sends it on to the other replicas.
    /// </summary>
    public bool ApplyTouch(string key, long version, long deadlineMs, bool fromPrimary = true, long refuseExpiredAtMs = 0, bool relay = false)
    {
        _index.TryGetValue(key, out StoredEntry? entry);
        bool moved = SlidingRenewal.Land(entry, version, deadlineMs, fromPrimary, refuseExpiredAtMs) == TouchLanding.Moved;
        if (moved && relay)
        {
            _touched.TryAdd(key, 0);
        }
        else if (moved)
        {
            _persistOnlyTouches.TryAdd(key, 0);
        }

        return moved;
    }

    /// <summary>The primary acknowledged these touches from this node: it holds their deadlines.</summary>
    public void ConfirmTouches(IEnumerable<StorageRecord> touches)
    {
        foreach (StorageRecord touch in touches)
        {
            if (_index.TryGetValue(touch.Key, out StoredEntry? entry) && entry.Version == touch.Version)
            {
                entry.ConfirmDeadline(touch.Expiry.DeadlineMs);
            }
        }
    }

    /// <summary>
    /// Starts catch-up session <paramref name="session"/> of the primary at <paramref name="epoch"/>:
    /// a full one drops everything held for this slice, file included; a delta keeps the copy (the
    /// primary sends what changed since it was complete). False, and nothing done, when this
    /// session is not newer than the last one started (a later primary's, or a later one of the
    /// same primary): a stale start must not wipe what a newer session sent.
    /// </summary>
    public bool TryBeginCatchUp(long epoch, long session, bool full)
    {
        lock (_fileLock)
        {
            if ((epoch, session).CompareTo(_catchUpSession) <= 0)
            {
                return false;
            }

            ThrowIfRetired();
            if (full)
            {
                WipeLocked();
            }

            _catchUpSession = (epoch, session);
            _catchingUp = true;
            return true;
        }
    }

    /// <summary>Whether <paramref name="session"/> is the catch-up session under way: only its records are applied.</summary>
    public bool IsCatchUpSession(long epoch, long session)
    {
        lock (_fileLock)
        {
            return _catchingUp && _catchUpSession == (epoch, session);
        }
    }

    /// <summary>Ends the catch-up session under way; false when <paramref name="session"/> is not it.</summary>
    public bool TryEndCatchUp(long epoch, long session)
    {
        lock (_fileLock)
        {
            if (!_catchingUp || _catchUpSession != (epoch, session))
            {
                return false;
            }

            _catchingUp = false;
            return true;
        }
    }

    public bool IsCatchingUp => _catchingUp;

    /// <summary>Forgets deletes older than the tombstone retention (compaction then drops their records).</summary>
    public void PruneTombstones(long nowMs)
    {
        foreach ((string key, long version) in _tombstones)
        {
            if (IsPurgeable(version, nowMs) && _tombstones.TryRemove(new KeyValuePair<string, long>(key, version)))
            {
                _memory.Add(-TombstoneBytes(key));
            }
        }
    }

    /// <summary>Remembers a delete of <paramref name="key"/> at <paramref name="version"/> (or keeps a newer one), counted against the memory budget.</summary>
    private void NoteTombstone(string key, long version)
    {
        while (true)
        {
            if (_tombstones.TryGetValue(key, out long held))
            {
                if (version <= held || _tombstones.TryUpdate(key, version, held))
                {
                    return;
                }
            }
            else if (_tombstones.TryAdd(key, version))
            {
                _memory.Add(TombstoneBytes(key));
                return;
            }
        }
    }

    private void ForgetAllTombstones()
    {
        foreach (string key in _tombstones.Keys)
        {
            if (_tombstones.TryRemove(key, out _))
            {
                _memory.Add(-TombstoneBytes(key));
            }
        }
    }

    /// <summary>What this slice's tombstones count against the memory budget.</summary>
    public long TombstoneMemoryBytes => _tombstones.Keys.Sum(TombstoneBytes);

    // The key's characters, the version and the dictionary's own entry.
    private static long TombstoneBytes(string key) => (2L * key.Length) + 64;

    /// <summary>Drops every entry and empties the file (the slice moved away and its data was handed over).</summary>
    public void Wipe()
    {
        lock (_fileLock)
        {
            ThrowIfRetired();
            WipeLocked();
        }
    }

    /// <summary>The live entries as Put records (values read back from the file when evicted), for streaming.</summary>
    public List<StorageRecord> Snapshot(long nowMs)
    {
        var records = new List<StorageRecord>(_index.Count);
        foreach (StoredEntry entry in _index.Values)
        {
            if (entry.IsExpiredAt(nowMs))
            {
                continue;
            }

            byte[]? value = entry.ValueInMemory ?? ReadValue(entry);
            if (value is not null)
            {
                records.Add(new StorageRecord(RecordKind.Put, entry.Key, entry.Version, entry.Expiry, value));
            }
        }

        return records;
    }

    /// <summary>The newest version held, of a live entry or of a delete.</summary>
    public long MaxVersion => _index.Values.Select(e => e.Version).Concat(_tombstones.Values).DefaultIfEmpty(0).Max();

    /// <summary>
    /// What changed at or after version <paramref name="since"/>: Put records of newer entries,
    /// Delete records of newer deletes, and Touch records of older sliding entries read since
    /// then. With a replica's copy complete up to <paramref name="since"/>, this is what brings
    /// it up to date (a delta catch-up).
    /// </summary>
    public List<StorageRecord> ChangesSince(long since, long nowMs)
    {
        long sinceMs = HybridTimestamp.PhysicalMsOf(since);
        var records = new List<StorageRecord>();
        foreach (StoredEntry entry in _index.Values)
        {
            if (entry.IsExpiredAt(nowMs))
            {
                continue;
            }

            if (entry.Version >= since)
            {
                byte[]? value = entry.ValueInMemory ?? ReadValue(entry);
                if (value is not null)
                {
                    records.Add(new StorageRecord(RecordKind.Put, entry.Key, entry.Version, entry.Expiry, value));
                }
            }
            else if (entry.SlidingMs > 0 && entry.DeadlineMs - entry.SlidingMs >= sinceMs)
            {
                records.Add(new StorageRecord(RecordKind.Touch, entry.Key, entry.Version, entry.Expiry, []));
            }
        }

        foreach ((string key, long version) in _tombstones)
        {
            if (version >= since)
            {
                records.Add(new StorageRecord(RecordKind.Delete, key, version, EntryExpiry.None, []));
            }
        }

        return records;
    }

    /// <summary>
    /// The current record of each key, once however often it is named: its live entry as a Put,
    /// or its tombstone as a Delete. Stops before the record that would take the values past
    /// <paramref name="maxValueBytes"/> (the first record always comes): the asker gets the rest
    /// in a later round.
    /// </summary>
    public List<StorageRecord> RecordsOf(IEnumerable<string> keys, long nowMs, long maxValueBytes = long.MaxValue)
    {
        var records = new List<StorageRecord>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long valueBytes = 0;
        foreach (string key in keys)
        {
            if (!seen.Add(key))
            {
                continue;
            }

            if (_index.TryGetValue(key, out StoredEntry? entry) && !entry.IsExpiredAt(nowMs))
            {
                long size = entry.ValueLength;
                if (records.Count > 0 && valueBytes + size > maxValueBytes)
                {
                    break;
                }

                if ((entry.ValueInMemory ?? ReadValue(entry)) is { } value)
                {
                    valueBytes += value.Length;
                    records.Add(new StorageRecord(RecordKind.Put, key, entry.Version, entry.Expiry, value));
                    continue;
                }
            }

            if (_tombstones.TryGetValue(key, out long deleted))
            {
                records.Add(new StorageRecord(RecordKind.Delete, key, deleted, EntryExpiry.None, []));
            }
        }

        return records;
    }

    private bool IsPurgeable(long tombstoneVersion, long nowMs) =>
        HybridTimestamp.PhysicalMsOf(tombstoneVersion) < nowMs - _tombstoneRetentionMs;

    private void WipeLocked()
    {
        foreach (StoredEntry entry in _index.Values)
        {
            _memory.Add(-entry.MemoryBytes);
        }

        _index.Clear();
        // A full copy brings the tombstones too (and they go back into the file with it).
        ForgetAllTombstones();
        _touched.Clear();
        _persistOnlyTouches.Clear();
        _file.Truncate(0);
        Interlocked.Exchange(ref _liveFileBytes, 0);
    }
}
