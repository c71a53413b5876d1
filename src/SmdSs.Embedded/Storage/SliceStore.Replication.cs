using System.Collections.Concurrent;

namespace SmdSs.Storage;

/// <summary>What a replica does with the records its primary sends: writes, catch-up sessions, wipes.</summary>
internal sealed partial class SliceStore
{
    // Recent deletes, also of keys not (yet) here: records of one key can arrive out of order
    // (two connections, a catch-up snapshot), and an older Put must not bring a deleted key back.
    // Kept for TombstoneMs after the delete's version time (far longer than any record is in flight).
    private readonly ConcurrentDictionary<string, long> _tombstones = new(StringComparer.Ordinal);
    private volatile bool _catchingUp;

    public const long TombstoneMs = 120_000;

    /// <summary>Applies one record from the primary, last writer wins by version. True when it changed something.</summary>
    public bool Apply(StorageRecord record)
    {
        switch (record.Kind)
        {
            case RecordKind.Put:
                return Put(record.Key, record.Version, record.Expiry, record.Value);
            case RecordKind.Delete:
                return Delete(record.Key, record.Version);
            case RecordKind.Touch:
                return ApplyTouch(record.Key, record.Version, record.Expiry.DeadlineMs);
            default:
                return false;
        }
    }

    /// <summary>Moves the deadline of the entry with this version (a read elsewhere slid it), and persists it.</summary>
    public bool ApplyTouch(string key, long version, long deadlineMs)
    {
        if (!_index.TryGetValue(key, out StoredEntry? entry) || entry.Version != version || !entry.ExtendDeadline(deadlineMs))
        {
            return false;
        }

        _persistOnlyTouches.TryAdd(key, 0);
        return true;
    }

    /// <summary>Starts a catch-up: drops everything held for this slice, file included.</summary>
    public void BeginCatchUp()
    {
        lock (_fileLock)
        {
            WipeLocked();
            _catchingUp = true;
        }
    }

    public void EndCatchUp() => _catchingUp = false;

    public bool IsCatchingUp => _catchingUp;

    /// <summary>Forgets deletes older than <see cref="TombstoneMs"/>.</summary>
    public void PruneTombstones(long nowMs)
    {
        foreach ((string key, long version) in _tombstones)
        {
            if (Replication.HybridClock.PhysicalMsOf(version) < nowMs - TombstoneMs)
            {
                _tombstones.TryRemove(new KeyValuePair<string, long>(key, version));
            }
        }
    }

    /// <summary>Drops every entry and empties the file (the slice moved away and its data was handed over).</summary>
    public void Wipe()
    {
        lock (_fileLock)
        {
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

    public long MaxVersion => _index.Values.Select(e => e.Version).DefaultIfEmpty(0).Max();

    private void WipeLocked()
    {
        foreach (StoredEntry entry in _index.Values)
        {
            _memory.Add(-entry.MemoryBytes);
        }

        _index.Clear();
        _touched.Clear();
        _persistOnlyTouches.Clear();
        _file.Truncate(0);
        Interlocked.Exchange(ref _liveFileBytes, 0);
    }
}
