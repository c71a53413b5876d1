using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Caching.Distributed;

namespace SmdSs;

/// <summary>Typed helpers over <see cref="ISmdSsKeyValueStore"/>: time-to-live, strings (UTF-8) and JSON.</summary>
public static class SmdSsKeyValueStoreExtensions
{
    /// <summary>Stores <paramref name="value"/> for <paramref name="timeToLive"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeToLive"/> is not positive.</exception>
    public static ValueTask SetAsync(this ISmdSsKeyValueStore store, string key, ReadOnlyMemory<byte> value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeToLive, TimeSpan.Zero);
        return store.SetAsync(key, value, new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = timeToLive }, cancellationToken);
    }

    /// <summary>The value of <paramref name="key"/> decoded as UTF-8, or null when missing.</summary>
    public static async ValueTask<string?> GetStringAsync(this ISmdSsKeyValueStore store, string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        byte[]? bytes = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Stores <paramref name="value"/> as UTF-8.</summary>
    public static ValueTask SetStringAsync(this ISmdSsKeyValueStore store, string key, string value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(value);
        return store.SetAsync(key, Encoding.UTF8.GetBytes(value), options, cancellationToken);
    }

    /// <summary>The value of <paramref name="key"/> deserialized from JSON, or default when missing.</summary>
    /// <exception cref="JsonException">The stored bytes are not JSON of <typeparamref name="T"/>.</exception>
    public static async ValueTask<T?> GetJsonAsync<T>(this ISmdSsKeyValueStore store, string key, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        byte[]? bytes = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        return bytes is null ? default : JsonSerializer.Deserialize(bytes, typeInfo);
    }

    /// <summary>Stores <paramref name="value"/> serialized as JSON.</summary>
    public static ValueTask SetJsonAsync<T>(this ISmdSsKeyValueStore store, string key, T value, JsonTypeInfo<T> typeInfo, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.SetAsync(key, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), options, cancellationToken);
    }

    /// <summary>The value of <paramref name="key"/> deserialized from JSON with default options, or default when missing.</summary>
    public static ValueTask<T?> GetJsonAsync<T>(this ISmdSsKeyValueStore store, string key, CancellationToken cancellationToken = default) =>
        store.GetJsonAsync(key, (JsonTypeInfo<T>)JsonSerializerOptions.Web.GetTypeInfo(typeof(T)), cancellationToken);

    /// <summary>Stores <paramref name="value"/> serialized as JSON with default options.</summary>
    public static ValueTask SetJsonAsync<T>(this ISmdSsKeyValueStore store, string key, T value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default) =>
        store.SetJsonAsync(key, value, (JsonTypeInfo<T>)JsonSerializerOptions.Web.GetTypeInfo(typeof(T)), options, cancellationToken);
}
