using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// Splitting a slice's store when the slice map splits the slice: its entries and tombstones are
/// copied into the stores of the halves (new files), and the old store is retired. A write that
/// reaches a retired store fails with <see cref="SliceRetiredException"/> and is routed again
/// (<see cref="FlatFileStore.Apply"/>); reads of a retired store still work until it is
/// disposed a maintenance round later, so that a read that found it just before the split ends well.
/// </summary>
internal sealed partial class SliceStore
{
    private volatile bool _retired;

    public bool IsRetired => _retired;

    /// <summary>Maintenance rounds since it was retired (touched only by the maintenance loop).</summary>
    public int RetiredRounds { get; set; }

    /// <summary>
    /// Copies every live entry and tombstone into <paramref name="halves"/> (by key hash), then
    /// retires this store and calls <paramref name="publish"/> before any waiting writer may go
    /// on, so that writers retried after it find the halves.
    /// </summary>
    public void SplitInto(IReadOnlyList<SliceStore> halves, long nowMs, Action publish)
    {
        lock (_fileLock)
        {
            SliceStore Owner(string key)
            {
                uint hash = Hashing.KeyHash.Of(key);
                return halves.First(h => h.Range.Contains(hash));
            }

            // In version and file order, so that a run replays the same.
            foreach ((string key, long version) in _tombstones.OrderBy(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal))
            {
                Owner(key).AdoptTombstone(key, version);
            }

            foreach (StoredEntry entry in _index.Values.OrderBy(e => e.RecordOffset))
            {
                if (!entry.IsExpiredForGoodAt(nowMs))
                {
                    SliceStore half = Owner(entry.Key);
                    half.Put(entry.Key, entry.Version, entry.Expiry, entry.ValueInMemory ?? ReadFromFileLocked(entry), ReadAnswersLocked(entry));
                    if (half.TryGet(entry.Key, out StoredEntry copy))
                    {
                        copy.CopyPrimaryDeadline(entry);
                    }
                }
            }

            foreach (SliceStore half in halves)
            {
                half.Sync();
            }

            _retired = true;
            publish();
        }
    }

    /// <summary>Frees what a retired store holds in memory and deletes its file.</summary>
    public void DisposeRetired()
    {
        lock (_fileLock)
        {
            foreach (StoredEntry entry in _index.Values)
            {
                _memory.Add(-entry.MemoryBytes);
            }

            _index.Clear();
            ForgetAllTombstones();
            _file.Delete();
        }
    }

    // Tombstones are copied first, into an empty store: kept in memory and in the file.
    private void AdoptTombstone(string key, long version)
    {
        lock (_fileLock)
        {
            NoteTombstone(key, version);
            _file.Append(RecordCodec.Encode(RecordKind.Delete, key, version, EntryExpiry.None, []));
        }
    }

    private void ThrowIfRetired()
    {
        if (_retired)
        {
            throw new SliceRetiredException(Range);
        }
    }
}

/// <summary>A write reached the store of a slice that was split meanwhile; route it again.</summary>
internal sealed class SliceRetiredException(SliceRange range) : Exception($"slice store {range} was split");
