using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// The in-memory index entry of one live key. Immutable but for fields that change without a new
/// version: the sliding deadline (reads extend it) and the part of it the slice's primary is
/// known to hold, the last access (for LRU), and the value itself, which eviction drops from
/// memory while the record stays in the slice file.
/// </summary>
internal sealed class StoredEntry
{
    private byte[]? _value;
    private long _deadlineMs;
    private long _primaryDeadlineMs;
    private long _lastAccess;

    public StoredEntry(string key, long version, EntryExpiry expiry, byte[] value, long recordOffset, int recordLength, int keyBytes)
    {
        Key = key;
        Version = version;
        AbsoluteMs = expiry.AbsoluteMs;
        SlidingMs = expiry.SlidingMs;
        _deadlineMs = expiry.DeadlineMs;
        // Every Put comes from the primary (its own write, a replicate, a catch-up) or is replayed.
        _primaryDeadlineMs = expiry.DeadlineMs;
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

    /// <summary>
    /// A deadline the slice's primary is known to hold (it sent it, or acknowledged this node's
    /// touch carrying it): at most <see cref="DeadlineMs"/>. See <see cref="SlidingRenewal"/>.
    /// </summary>
    public long PrimaryDeadlineMs => Volatile.Read(ref _primaryDeadlineMs);

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

    /// <summary>Expired, and no read anywhere can have moved the deadline (no sliding window, one capped by the absolute expiration, or claimed by the primary's expiry).</summary>
    public bool IsExpiredForGoodAt(long nowMs) => IsClaimedForExpiry || Expiry.IsExpiredForGoodAt(nowMs);

    public void MarkAccess(long tick) => Volatile.Write(ref _lastAccess, tick);

    /// <summary>Moves the deadline forward (never back). True when it moved. An entry claimed for expiry stays expired.</summary>
    public bool ExtendDeadline(long deadlineMs)
    {
        long current = Volatile.Read(ref _deadlineMs);
        while (deadlineMs > current && current != ClaimedMs)
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

    /// <summary>
    /// The primary's expiry decision, atomic with respect to reads that slide the entry: true
    /// when the entry was expired at <paramref name="nowMs"/>, and from then on it reads as
    /// expired and no read or touch moves its deadline. A read that slid it first wins.
    /// </summary>
    public bool TryClaimExpiry(long nowMs)
    {
        long current = Volatile.Read(ref _deadlineMs);
        while (current != 0 && current <= nowMs)
        {
            long seen = Interlocked.CompareExchange(ref _deadlineMs, ClaimedMs, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>Claimed by <see cref="TryClaimExpiry"/>: its primary is deleting it.</summary>
    public bool IsClaimedForExpiry => Volatile.Read(ref _deadlineMs) == ClaimedMs;

    // A deadline in 1970: expired at any clock, and not a deadline any write produces.
    private const long ClaimedMs = 1;

    /// <summary>The primary holds at least <paramref name="deadlineMs"/>: it sent it or acknowledged it. Never moves back.</summary>
    public void ConfirmDeadline(long deadlineMs)
    {
        ExtendDeadline(deadlineMs);
        RaisePrimaryDeadline(deadlineMs);
    }

    /// <summary>
    /// A copy of an entry (a split) keeps what the original knew of the primary's deadline:
    /// renewals made here and not yet acknowledged stay unconfirmed. Before the copy is shared.
    /// </summary>
    public void CopyPrimaryDeadline(StoredEntry original) => Volatile.Write(ref _primaryDeadlineMs, Math.Min(original.PrimaryDeadlineMs, DeadlineMs));

    private void RaisePrimaryDeadline(long deadlineMs)
    {
        long current = Volatile.Read(ref _primaryDeadlineMs);
        while (deadlineMs > current)
        {
            long seen = Interlocked.CompareExchange(ref _primaryDeadlineMs, deadlineMs, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Drops the value from memory. Returns the bytes freed (0 when already dropped).</summary>
    public long EvictValue() => Interlocked.Exchange(ref _value, null) is null ? 0 : ValueLength;

    /// <summary>Puts a value read back from the file into memory again.</summary>
    public long RestoreValue(byte[] value) => Interlocked.CompareExchange(ref _value, value, null) is null ? ValueLength : 0;
}
