using Microsoft.Extensions.Caching.Distributed;

namespace SmdSs.Model;

/// <summary>
/// Expiration of one entry, in Unix milliseconds (0 = none). <see cref="DeadlineMs"/> is the
/// moment the entry expires now: the absolute expiration, or the sliding window's end capped by
/// it. Semantics follow Microsoft's providers: expired when now &gt;= deadline; a read extends
/// the sliding window to now + window, never past the absolute expiration.
/// </summary>
internal readonly record struct EntryExpiry(long AbsoluteMs, long SlidingMs, long DeadlineMs)
{
    public static readonly EntryExpiry None;

    public bool HasSliding => SlidingMs > 0;

    public bool IsExpiredAt(long nowMs) => DeadlineMs != 0 && nowMs >= DeadlineMs;

    /// <summary>Expired, and no read anywhere can have moved the deadline: no sliding window, or one capped by the absolute expiration.</summary>
    public bool IsExpiredForGoodAt(long nowMs) => IsExpiredAt(nowMs) && (SlidingMs == 0 || (AbsoluteMs != 0 && DeadlineMs >= AbsoluteMs));

    /// <summary>The deadline a read at <paramref name="nowMs"/> moves the entry to.</summary>
    public long SlideAt(long nowMs)
    {
        if (SlidingMs <= 0)
        {
            return DeadlineMs;
        }

        long slid = nowMs + SlidingMs;
        return AbsoluteMs != 0 ? Math.Min(slid, AbsoluteMs) : slid;
    }

    /// <summary>
    /// The expiry of a write its primary applies at <paramref name="nowMs"/>: a sliding window runs
    /// from then at the earliest (a write forwarded and retried may arrive after the deadline its
    /// caller computed, and must not take effect expired).
    /// </summary>
    public EntryExpiry AppliedAt(long nowMs) => HasSliding ? this with { DeadlineMs = Math.Max(DeadlineMs, SlideAt(nowMs)) } : this;

    /// <summary>
    /// Validates <paramref name="options"/> exactly as MemoryDistributedCache and RedisCache do
    /// and turns it into an expiry. A relative expiration wins over an absolute one.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An absolute expiration not in the future, or a non-positive span.</exception>
#pragma warning disable CA2208 // The parameter names are the option's properties, as RedisCache reports them.
    public static EntryExpiry FromOptions(DistributedCacheEntryOptions? options, DateTimeOffset now)
    {
        if (options is null)
        {
            return None;
        }

        if (options.AbsoluteExpiration is { } absolute && absolute <= now)
        {
            throw new ArgumentOutOfRangeException(
                nameof(DistributedCacheEntryOptions.AbsoluteExpiration), absolute, "The absolute expiration value must be in the future.");
        }

        if (options.AbsoluteExpirationRelativeToNow is { } relative && relative <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(
                nameof(DistributedCacheEntryOptions.AbsoluteExpirationRelativeToNow), relative, "The relative expiration value must be positive.");
        }

        if (options.SlidingExpiration is { } sliding && sliding <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(
                nameof(DistributedCacheEntryOptions.SlidingExpiration), sliding, "The sliding expiration value must be positive.");
        }

        DateTimeOffset? absoluteAt = options.AbsoluteExpirationRelativeToNow is { } rel ? now + rel : options.AbsoluteExpiration;
        long absoluteMs = absoluteAt is { } at ? CeilingUnixMs(at) : 0;
        long slidingMs = options.SlidingExpiration is { } window ? Math.Max(1, (long)Math.Ceiling(window.TotalMilliseconds)) : 0;
        var expiry = new EntryExpiry(absoluteMs, slidingMs, absoluteMs);
        return expiry with { DeadlineMs = expiry.SlideAt(now.ToUnixTimeMilliseconds()) };
    }
#pragma warning restore CA2208

    /// <summary>An expiry that ends at <paramref name="nowMs"/> + <paramref name="timeToLive"/>.</summary>
    public static EntryExpiry After(TimeSpan timeToLive, long nowMs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeToLive, TimeSpan.Zero);
        long at = nowMs + Math.Max(1, (long)Math.Ceiling(timeToLive.TotalMilliseconds));
        return new EntryExpiry(at, 0, at);
    }

    // Rounding up keeps an expiration a few microseconds ahead from landing in the past.
    private static long CeilingUnixMs(DateTimeOffset at)
    {
        long ticks = at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        return (ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond;
    }
}
