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

    /// <summary>
    /// Adds <paramref name="delta"/> to the 64-bit counter at <paramref name="key"/> on its primary
    /// and returns the new value. A missing key starts at 0 and gets <paramref name="options"/> as
    /// its expiration; an existing counter keeps its own. The value is stored as ASCII decimal
    /// (as Redis does), so <c>GetStringAsync</c> reads it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The key holds a value that is not a 64-bit decimal integer, or the sum overflows.</exception>
    /// <exception cref="SmdSsUnavailableException">No primary answered in time; the increment may or may not have happened.</exception>
    ValueTask<long> IncrementAsync(string key, long delta = 1, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>The value of <paramref name="key"/> with its version, or null when missing. Extends a sliding expiration.</summary>
    ValueTask<SmdSsVersionedValue?> GetVersionedAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores <paramref name="value"/> only if <paramref name="key"/> still has
    /// <paramref name="expectedVersion"/> (from <see cref="GetVersionedAsync"/>; 0 = the key must
    /// be missing). Of many callers expecting the same version exactly one wins.
    /// </summary>
    ValueTask<SmdSsSwapResult> CompareAndSwapAsync(string key, long expectedVersion, ReadOnlyMemory<byte> value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends <paramref name="value"/> to the value of <paramref name="key"/> on its primary and
    /// returns the new length. A missing key is created with <paramref name="options"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The result would be larger than <see cref="SmdSsOptions.MaxValueBytes"/>.</exception>
    ValueTask<long> AppendAsync(string key, ReadOnlyMemory<byte> value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// The value of <paramref name="key"/>; when it is missing, <paramref name="factory"/> makes it
    /// and it is stored with <paramref name="options"/>. A cache-stampede guard: when callers on
    /// many nodes miss the key at once, the factory runs once in the whole cluster (in the first
    /// caller) and every caller gets its result. If that factory throws, its caller gets the
    /// exception and the next waiting caller runs its own factory; if that caller's node dies, the
    /// others wait at most <see cref="SmdSsOptions.SingleFlightTimeout"/>.
    /// </summary>
    ValueTask<byte[]> GetOrAddAsync(string key, Func<CancellationToken, ValueTask<byte[]>> factory, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs the entry processor registered as <paramref name="processorName"/> on the primary of
    /// <paramref name="key"/>, atomically with respect to every other write of the key; its new
    /// value is replicated like any write. Returns the processor's answer.
    /// </summary>
    /// <exception cref="SmdSsProcessorException">No processor of that name is registered there, or it threw; nothing changed.</exception>
    ValueTask<byte[]> ExecuteAsync(string key, string processorName, ReadOnlyMemory<byte> argument = default, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs the map function registered as <paramref name="mapFunctionName"/> over every slice of
    /// the cluster, in parallel on the nodes that hold them, and returns the partial results (one
    /// per slice) for the caller to reduce; see <see cref="SmdSsComputeExtensions"/> for reductions,
    /// key counts and prefix scans. A slice whose node fails mid-query is retried on another replica.
    /// </summary>
    /// <exception cref="SmdSsProcessorException">No map function of that name is registered, or it threw, or a partial is over MaxValueBytes.</exception>
    /// <exception cref="SmdSsUnavailableException">Some slice had no reachable up-to-date replica within RequestTimeout.</exception>
    ValueTask<IReadOnlyList<byte[]>> MapAsync(string mapFunctionName, ReadOnlyMemory<byte> argument = default, CancellationToken cancellationToken = default);
}
