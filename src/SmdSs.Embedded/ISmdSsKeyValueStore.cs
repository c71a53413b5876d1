using Microsoft.Extensions.Caching.Distributed;

namespace SmdSs;

/// <summary>
/// The SMD-SS key-value service: byte values by string key, with optional expiration.
/// Typed helpers (strings, JSON, time-to-live) are extension methods in
/// <see cref="SmdSsKeyValueStoreExtensions"/>.
/// </summary>
/// <remarks>
/// Every method throws <see cref="ArgumentNullException"/> for a null key,
/// <see cref="ArgumentException"/> for an empty key, a key over <see cref="SmdSsLimits.MaxKeyBytes"/>
/// UTF-8 bytes or one that is not valid UTF-16, <see cref="OperationCanceledException"/> (doing
/// nothing) when the token is already cancelled, and <see cref="InvalidOperationException"/> when
/// the node is not running.
/// </remarks>
public interface ISmdSsKeyValueStore
{
    /// <summary>The value of <paramref name="key"/>, or null when it is missing or expired. Extends a sliding expiration.</summary>
    ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Stores a copy of <paramref name="value"/> under <paramref name="key"/>; null options mean no expiration.</summary>
    /// <exception cref="ArgumentException">The value is larger than <see cref="SmdSsOptions.MaxValueBytes"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An absolute expiration not in the future, or a non-positive span.</exception>
    ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Removes <paramref name="key"/>. True when a live entry was removed; a missing key is not an error.</summary>
    ValueTask<bool> RemoveAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>True when <paramref name="key"/> holds a live entry. Does not extend a sliding expiration.</summary>
    ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// How long until <paramref name="key"/> expires; null when the key is missing or never
    /// expires (tell them apart with <see cref="ExistsAsync"/>). Does not extend a sliding expiration.
    /// </summary>
    ValueTask<TimeSpan?> GetTimeToLiveAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Extends the sliding expiration of <paramref name="key"/> as a read would. True when the key exists.</summary>
    ValueTask<bool> RefreshAsync(string key, CancellationToken cancellationToken = default);
}
