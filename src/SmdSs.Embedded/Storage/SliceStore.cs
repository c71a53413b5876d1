using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// One slice on this node: its append-only file and the in-memory index of its live keys.
/// Reads of in-memory values take no lock; everything that touches the file (appends, reads of
/// evicted values, compaction) holds <see cref="_fileLock"/>, so the index and file agree.
/// Invariant: an entry is in the index only after its record is in the file.
/// </summary>
internal sealed partial class SliceStore : IDisposable
{
    private readonly ConcurrentDictionary<string, StoredEntry> _index = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _touched = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _persistOnlyTouches = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _expiredSeen = new(StringComparer.Ordinal);
    private readonly Lock _fileLock = new();
    private readonly SliceFile _file;
    private readonly MemoryBudget _memory;
    private readonly int _maxBodyBytes;
    private readonly long _tombstoneRetentionMs;
    private long _liveFileBytes;

    public SliceStore(SliceRange range, ISliceDisk disk, string directory, FsyncPolicy policy, MemoryBudget memory, int maxBodyBytes, long tombstoneRetentionMs)
    {
        Range = range;
        _memory = memory;
        _maxBodyBytes = maxBodyBytes;
        _tombstoneRetentionMs = tombstoneRetentionMs;
        _file = new SliceFile(disk, Path.Combine(directory, SliceFile.NameOf(range)), policy);
    }

    public SliceRange Range { get; }

    public int Count => _index.Count;

    public long FileBytes => _file.Length;

    /// <summary>Bytes of the records of live entries (and retained tombstones): what the slice holds.</summary>
    public long LiveBytes => Interlocked.Read(ref _liveFileBytes);

    /// <summary>File bytes that no live entry needs: overwritten, deleted, expired, touch records, damage.</summary>
    public long DeadFileBytes => _file.Length - Interlocked.Read(ref _liveFileBytes);

    public IEnumerable<StoredEntry> Entries => _index.Values;

    public bool TryGet(string key, out StoredEntry entry) => _index.TryGetValue(key, out entry!);

    /// <summary>Writes a Put and indexes it, unless the key already holds this or a newer version.</summary>
    public bool Put(string key, long version, EntryExpiry expiry, ReadOnlySpan<byte> value) => Put(key, version, expiry, value.ToArray());

    /// <summary>
    /// Writes a Put and indexes it, unless the key already holds this or a newer version. The
    /// store keeps <paramref name="owned"/> itself: the caller must never change it afterwards.
    /// <paramref name="answers"/>: the atomic operations the value holds, written in the record.
    /// </summary>
    public bool Put(string key, long version, EntryExpiry expiry, byte[] owned, IReadOnlyList<OperationAnswer>? answers = null)
    {
        int keyBytes = Encoding.UTF8.GetByteCount(key);
        int length = RecordCodec.EncodedLength(keyBytes, owned.Length, RecordCodec.TrailerLength(answers));
        byte[] record = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            RecordCodec.Encode(record.AsSpan(0, length), RecordKind.Put, key, keyBytes, version, expiry, owned, answers);
            lock (_fileLock)
            {
                ThrowIfRetired();
                if ((_index.TryGetValue(key, out StoredEntry? old) && old.Version >= version)
                    || (_tombstones.TryGetValue(key, out long deletedAt) && deletedAt >= version))
                {
                    return false;
                }

                long offset = _file.Append(record.AsSpan(0, length));
                var entry = new StoredEntry(key, version, expiry, owned, offset, length, keyBytes);
                _index[key] = entry;
                Interlocked.Add(ref _liveFileBytes, length - (old?.RecordLength ?? 0));
                _memory.Add(entry.MemoryBytes - (old?.MemoryBytes ?? 0));
                return true;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(record);
        }
    }

    /// <summary>Writes a tombstone and drops the key, when it holds an older version. True if a live entry was removed.</summary>
    public bool Delete(string key, long version, IReadOnlyList<OperationAnswer>? answers = null)
    {
        lock (_fileLock)
        {
            ThrowIfRetired();
            bool newer = !_tombstones.TryGetValue(key, out long known) || known < version;
            NoteTombstone(key, version);
            bool drops = _index.TryGetValue(key, out StoredEntry? old) && old.Version < version;
            if (drops || newer)
            {
                // Durable even without a live entry here: a replica catching up from this file needs it.
                _file.Append(RecordCodec.Encode(RecordKind.Delete, key, version, EntryExpiry.None, [], answers));
            }

            if (!drops)
            {
                return false;
            }

            DropLocked(old!);
            return true;
        }
    }

    /// <summary>
    /// Notes that a read found the entry of <paramref name="key"/> expired. It stays until the
    /// primary deletes it (<see cref="TakeExpired"/>): only a primary expires entries.
    /// </summary>
    public void NoteExpired(string key) => _expiredSeen.TryAdd(key, 0);

    /// <summary>Records that a read moved the sliding deadline; written to the file by <see cref="FlushTouches"/>.</summary>
    public void MarkTouched(string key) => _touched.TryAdd(key, 0);

    /// <summary>Reads an evicted value back from the file and holds it in memory again (it is being used).</summary>
    public byte[]? ReadValue(StoredEntry entry)
    {
        lock (_fileLock)
        {
            if (!_index.TryGetValue(entry.Key, out StoredEntry? current) || !ReferenceEquals(current, entry))
            {
                return null;
            }

            byte[]? inMemory = entry.ValueInMemory;
            if (inMemory is not null)
            {
                return inMemory;
            }

            byte[] value = ReadFromFileLocked(entry);
            _memory.Add(entry.RestoreValue(value));
            return value;
        }
    }

    /// <summary>Drops an entry's value from memory; its record stays in the file. Returns the bytes freed.</summary>
    public long EvictValue(StoredEntry entry)
    {
        lock (_fileLock)
        {
            if (!_index.TryGetValue(entry.Key, out StoredEntry? current) || !ReferenceEquals(current, entry))
            {
                return 0;
            }

            long freed = entry.EvictValue();
            _memory.Add(-freed);
            return freed;
        }
    }

    /// <summary>
    /// fsync, outside the file lock: appends go on while the disk flushes (an fsync covers
    /// every write that returned before it started).
    /// </summary>
    public void Sync()
    {
        IDiskFile? dirty;
        lock (_fileLock)
        {
            dirty = _file.TakeDirty();
        }

        try
        {
            dirty?.Sync();
        }
        catch (ObjectDisposedException)
        {
            // Compaction replaced the file meanwhile; the new file was fsynced before its rename.
        }
    }

    public void Dispose()
    {
        lock (_fileLock)
        {
            _file.Dispose();
        }
    }

    private void DropLocked(StoredEntry entry)
    {
        _index.TryRemove(new KeyValuePair<string, StoredEntry>(entry.Key, entry));
        Interlocked.Add(ref _liveFileBytes, -entry.RecordLength);
        _memory.Add(-entry.MemoryBytes);
        _touched.TryRemove(entry.Key, out _);
    }
}
