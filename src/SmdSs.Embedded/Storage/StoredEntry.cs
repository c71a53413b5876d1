namespace SmdSs.Storage;

/// <summary>
/// The in-memory index entry of one live key. Immutable but for three fields that change without
/// a new version: the sliding deadline (reads extend it), the last access (for LRU), and the value
/// itself, which eviction drops from memory while the record stays in the slice file.
/// </summary>
internal sealed class StoredEntry
{
    private byte[]? _value;
    private long _deadlineMs;
    private long _lastAccess;

    public StoredEntry(string key, long version, EntryExpiry expiry, byte[] value, long recordOffset, int recordLength, int keyBytes)
    {
        Key = key;
        Version = version;
        AbsoluteMs = expiry.AbsoluteMs;
        SlidingMs = expiry.SlidingMs;
        _deadlineMs = expiry.DeadlineMs;
        _value = value;
        ValueLength = value.Length;
        RecordOffset = recordOffset;
        RecordLength = recordLength;
        KeyBytes = keyBytes;
        // A write counts as a use: a value just written is not the least recently used.
        _lastAccess = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    public string Key { get; }

    public long Version { get; }

    public long AbsoluteMs { get; }

    public long SlidingMs { get; }

    public int ValueLength { get; }

    public int KeyBytes { get; }

    /// <summary>Where the Put record lies in the slice file; compaction moves it (under the slice lock).</summary>
    public long RecordOffset { get; set; }

    public int RecordLength { get; }

    /// <summary>A v2 record: it carries operation answers after the value (see <see cref="RecordAnswers"/>).</summary>
    public bool CarriesAnswers => RecordLength != RecordCodec.EncodedLength(KeyBytes, ValueLength);

    public long DeadlineMs => Volatile.Read(ref _deadlineMs);

    public EntryExpiry Expiry => new(AbsoluteMs, SlidingMs, DeadlineMs);

    /// <summary>The value when it is in memory; null after eviction (read it from the file).</summary>
    public byte[]? ValueInMemory => Volatile.Read(ref _value);

    public long LastAccess => Volatile.Read(ref _lastAccess);

    /// <summary>Memory this entry costs while its value is held: key, value and a fixed overhead.</summary>
    public long MemoryBytes => OverheadBytes + (2L * Key.Length) + (ValueInMemory is null ? 0 : ValueLength);

    public long KeyMemoryBytes => OverheadBytes + (2L * Key.Length);

    public const int OverheadBytes = 128;

    public bool IsExpiredAt(long nowMs)
    {
        long deadline = DeadlineMs;
        return deadline != 0 && nowMs >= deadline;
    }

    public void MarkAccess(long tick) => Volatile.Write(ref _lastAccess, tick);

    /// <summary>Moves the deadline forward (never back). True when it moved.</summary>
    public bool ExtendDeadline(long deadlineMs)
    {
        long current = Volatile.Read(ref _deadlineMs);
        while (deadlineMs > current)
        {
            long seen = Interlocked.CompareExchange(ref _deadlineMs, deadlineMs, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>Drops the value from memory. Returns the bytes freed (0 when already dropped).</summary>
    public long EvictValue() => Interlocked.Exchange(ref _value, null) is null ? 0 : ValueLength;

    /// <summary>Puts a value read back from the file into memory again.</summary>
    public long RestoreValue(byte[] value) => Interlocked.CompareExchange(ref _value, value, null) is null ? ValueLength : 0;
}
