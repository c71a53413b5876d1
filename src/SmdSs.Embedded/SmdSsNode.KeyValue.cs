using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Hashing;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// The key-value operations. On a single node every slice is local, so each one is a
/// synchronous memory operation (plus one file append for writes); the async methods complete
/// synchronously.
/// </summary>
public sealed partial class SmdSsNode
{
    /// <inheritdoc />
    public ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Get(key));
    }

    /// <inheritdoc />
    public ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Set(key, value.Span, options);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Remove(key));
    }

    /// <inheritdoc />
    public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(FindLive(key, out _, out _));
    }

    /// <inheritdoc />
    public ValueTask<TimeSpan?> GetTimeToLiveAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TimeSpan? ttl = FindLive(key, out _, out StoredEntry? entry) && entry.DeadlineMs != 0
            ? TimeSpan.FromMilliseconds(entry.DeadlineMs - NowMs())
            : null;
        return ValueTask.FromResult(ttl);
    }

    /// <inheritdoc />
    public ValueTask<bool> RefreshAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Refresh(key));
    }

    /// <summary>A copy of the live value, or null. Extends a sliding expiration.</summary>
    internal byte[]? Get(string key)
    {
        byte[]? value = ReadAndSlide(key);
        return value?.AsSpan().ToArray();
    }

    /// <summary>Writes the live value into <paramref name="destination"/>; false when there is none.</summary>
    internal bool TryGet(string key, IBufferWriter<byte> destination)
    {
        byte[]? value = ReadAndSlide(key);
        if (value is null)
        {
            return false;
        }

        destination.Write(value);
        return true;
    }

    internal void Set(string key, ReadOnlySpan<byte> value, DistributedCacheEntryOptions? options)
    {
        KeyRules.ValidateKey(key);
        KeyRules.ValidateValueLength(value.Length, _options.MaxValueBytes);
        FlatFileStore store = RunningStore();
        DateTimeOffset now = _time.GetUtcNow();
        EntryExpiry expiry = EntryExpiry.FromOptions(options, now);
        store.SliceFor(KeyHash.Of(key)).Put(key, _clock.Next(now.ToUnixTimeMilliseconds()), expiry, value);
        _metrics!.Set();
        store.EvictIfOverLimit();
    }

    internal void Set(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions? options)
    {
        KeyRules.ValidateValueLength(value.Length, _options.MaxValueBytes);
        if (value.IsSingleSegment)
        {
            Set(key, value.FirstSpan, options);
        }
        else
        {
            Set(key, value.ToArray(), options);
        }
    }

    internal bool Remove(string key)
    {
        KeyRules.ValidateKey(key);
        FlatFileStore store = RunningStore();
        bool removed = store.SliceFor(KeyHash.Of(key)).Delete(key, _clock.Next(NowMs()));
        _metrics!.Remove();
        return removed;
    }

    internal bool Refresh(string key)
    {
        bool found = FindLive(key, out SliceStore? slice, out StoredEntry? entry);
        if (found)
        {
            Slide(slice!, entry!);
        }

        _metrics!.Refresh();
        return found;
    }

    private byte[]? ReadAndSlide(string key)
    {
        if (!FindLive(key, out SliceStore? slice, out StoredEntry? entry))
        {
            _metrics!.Get(hit: false);
            return null;
        }

        Slide(slice!, entry!);
        entry!.MarkAccess(Stopwatch.GetTimestamp());
        byte[]? value = entry.ValueInMemory ?? ReadEvicted(slice!, entry);
        _metrics!.Get(hit: value is not null);
        return value;
    }

    private byte[]? ReadEvicted(SliceStore slice, StoredEntry entry)
    {
        byte[]? value = slice.ReadValue(entry);
        RunningStore().EvictIfOverLimit();
        return value;
    }

    /// <summary>Finds the live entry of <paramref name="key"/>; an expired one is dropped on the way.</summary>
    private bool FindLive(string key, out SliceStore? slice, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StoredEntry? entry)
    {
        KeyRules.ValidateKey(key);
        slice = RunningStore().SliceFor(KeyHash.Of(key));
        if (!slice.TryGet(key, out entry))
        {
            return false;
        }

        long now = NowMs();
        if (entry.IsExpiredAt(now))
        {
            slice.RemoveExpired(entry, now);
            entry = null;
            return false;
        }

        return true;
    }

    private void Slide(SliceStore slice, StoredEntry entry)
    {
        if (entry.SlidingMs > 0 && entry.ExtendDeadline(entry.Expiry.SlideAt(NowMs())))
        {
            slice.MarkTouched(entry.Key);
        }
    }
}
