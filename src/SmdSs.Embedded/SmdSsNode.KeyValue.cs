using System.Buffers;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// The key-value operations. Each validates its input, then finds the key's slice: a read is
/// answered from this node's copy when it may (it is the primary, or an in-sync replica with a
/// read lease: a memory lookup, no network), else by the primary; a write always goes to the
/// primary. On a single node every slice is local and everything completes synchronously.
/// </summary>
public sealed partial class SmdSsNode
{
    /// <inheritdoc />
    public async ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        KeyRules.RefuseReserved(key);
        byte[]? value = await ReadAsync(key, MessageType.Get, cancellationToken).ConfigureAwait(false);
        return value;
    }

    /// <inheritdoc />
    public async ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        KeyRules.RefuseReserved(key);
        // The copy happens here, before any await: the caller's memory may change once we return.
        await SetCoreAsync(key, value.ToArray(), options, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        KeyRules.RefuseReserved(key);
        uint hash = KeyRules.ValidateAndHash(key);
        RunningStore();
        var record = new StorageRecord(RecordKind.Delete, key, 0, EntryExpiry.None, []);
        bool removed = await WriteAsync(hash, record, cancellationToken).ConfigureAwait(false);
        _metrics?.Remove();
        return removed;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        KeyRules.RefuseReserved(key);
        return await ProbeAsync(key, cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <inheritdoc />
    public async ValueTask<TimeSpan?> GetTimeToLiveAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        KeyRules.RefuseReserved(key);
        long? deadline = await ProbeAsync(key, cancellationToken).ConfigureAwait(false);
        return deadline is > 0 ? TimeSpan.FromMilliseconds(deadline.Value - NowMs()) : null;
    }

    /// <inheritdoc />
    public async ValueTask<bool> RefreshAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        KeyRules.RefuseReserved(key);
        bool found = await ReadAsync(key, MessageType.Refresh, cancellationToken).ConfigureAwait(false) is not null;
        _metrics?.Refresh();
        return found;
    }

    /// <summary>A copy of the live value, or null. Extends a sliding expiration. Synchronous when the read is local.</summary>
    internal byte[]? Get(string key)
    {
        KeyRules.RefuseReserved(key);
        return Sync(ReadAsync(key, MessageType.Get, CancellationToken.None));
    }

    /// <summary>Writes the live value into <paramref name="destination"/>; false when there is none.</summary>
    internal bool TryGet(string key, IBufferWriter<byte> destination)
    {
        byte[]? value = Get(key);
        if (value is null)
        {
            return false;
        }

        destination.Write(value);
        return true;
    }

    internal void Set(string key, ReadOnlySpan<byte> value, DistributedCacheEntryOptions? options)
    {
        KeyRules.RefuseReserved(key);
        KeyRules.ValidateValueLength(value.Length, _options.MaxValueBytes);
        Sync(SetCoreAsync(key, value.ToArray(), options, CancellationToken.None));
    }

    internal void Set(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions? options)
    {
        KeyRules.ValidateValueLength(value.Length, _options.MaxValueBytes);
        Set(key, value.IsSingleSegment ? value.FirstSpan : value.ToArray(), options);
    }

    internal bool Remove(string key) => Sync(RemoveAsync(key, CancellationToken.None));

    internal bool Refresh(string key) => Sync(RefreshAsync(key, CancellationToken.None));

    /// <summary>Writes <paramref name="owned"/>, a copy no caller holds: from here on the store owns it.</summary>
    private async ValueTask<bool> SetCoreAsync(string key, byte[] owned, DistributedCacheEntryOptions? options, CancellationToken cancellationToken)
    {
        uint hash = KeyRules.ValidateAndHash(key);
        KeyRules.ValidateValueLength(owned.Length, _options.MaxValueBytes);
        RunningStore();
        EntryExpiry expiry = EntryExpiry.FromOptions(options, _time.GetUtcNow());
        var record = new StorageRecord(RecordKind.Put, key, 0, expiry, owned);
        await WriteAsync(hash, record, cancellationToken).ConfigureAwait(false);
        _metrics?.Set();
        return true;
    }

    /// <summary>The deadline of the live entry (0 when it never expires), or null when there is none. Does not slide.</summary>
    private async ValueTask<long?> ProbeAsync(string key, CancellationToken cancellationToken)
    {
        uint hash = KeyRules.ValidateAndHash(key);
        FlatFileStore store = RunningStore();
        PieSlice slice = SliceMap!.Find(hash);
        if (CanReadLocally(slice))
        {
            LocalLookup here = Lookup(store.SliceFor(hash), key, RoleFor(slice), out StoredEntry? entry);
            if (here != LocalLookup.AskPrimary)
            {
                return here == LocalLookup.Live ? entry!.DeadlineMs : null;
            }
        }

        Frame reply = await ForwardAsync(hash, MessageType.Probe, new ForwardedOperation(key, EntryExpiry.None, []), cancellationToken).ConfigureAwait(false);
        var reader = new MessageReader(reply.Payload);
        bool found = reader.Bool();
        long deadline = reader.I64();
        return found ? deadline : null;
    }

    private static T Sync<T>(ValueTask<T> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();
}
