using System.Buffers;
using Microsoft.Extensions.Caching.Distributed;

namespace SmdSs.AspNetCore;

/// <summary>
/// <see cref="IDistributedCache"/> and <see cref="IBufferDistributedCache"/> over the embedded
/// node, with the contract of Microsoft's providers: null arguments throw
/// <see cref="ArgumentNullException"/>, bad expirations <see cref="ArgumentOutOfRangeException"/>,
/// a cancelled token <see cref="OperationCanceledException"/> before anything is done; Get and
/// Refresh extend a sliding expiration; removing or refreshing a missing key does nothing.
/// </summary>
internal sealed class SmdSsDistributedCache(SmdSsNode node) : IDistributedCache, IBufferDistributedCache
{
    public byte[]? Get(string key) => node.Get(key);

    public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => node.GetAsync(key, token).AsTask();

    public bool TryGet(string key, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return node.TryGet(key, destination);
    }

    public async ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken token = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        byte[]? value = await node.GetAsync(key, token).ConfigureAwait(false);
        if (value is null)
        {
            return false;
        }

        destination.Write(value);
        return true;
    }

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(options);
        node.Set(key, value, options);
    }

    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(options);
        return node.SetAsync(key, value, options, token).AsTask();
    }

    public void Set(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(options);
        node.Set(key, value, options);
    }

    public ValueTask SetAsync(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(options);
        token.ThrowIfCancellationRequested();
        return node.SetAsync(key, value.ToArray(), options, token);
    }

    public void Refresh(string key) => node.Refresh(key);

    public Task RefreshAsync(string key, CancellationToken token = default) => node.RefreshAsync(key, token).AsTask();

    public void Remove(string key) => node.Remove(key);

    public Task RemoveAsync(string key, CancellationToken token = default) => node.RemoveAsync(key, token).AsTask();
}
