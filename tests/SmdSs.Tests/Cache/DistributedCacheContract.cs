using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Time.Testing;

namespace SmdSs.Tests.Cache;

/// <summary>
/// The behaviour Microsoft's IDistributedCache providers share (MemoryDistributedCache and
/// RedisCache): validation, expiration, refresh, removal, large values, concurrent callers.
/// Run against MemoryDistributedCache as the reference and against SMD-SS, so that any
/// difference between them fails one of the two.
/// </summary>
public abstract class DistributedCacheContract
{
    protected static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    protected FakeTimeProvider Time { get; } = new(Start);

    protected abstract IDistributedCache Cache { get; }

    protected static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void Get_of_a_missing_key_returns_null() => Assert.Null(Cache.Get("missing"));

    [Fact]
    public void Set_then_get_returns_the_value()
    {
        Cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions());
        Assert.Equal(Bytes("v"), Cache.Get("k"));
    }

    [Fact]
    public void Keys_are_case_sensitive()
    {
        Cache.Set("Key", Bytes("upper"), new DistributedCacheEntryOptions());
        Cache.Set("key", Bytes("lower"), new DistributedCacheEntryOptions());
        Assert.Equal(Bytes("upper"), Cache.Get("Key"));
        Assert.Equal(Bytes("lower"), Cache.Get("key"));
    }

    [Fact]
    public void Set_overwrites()
    {
        Cache.Set("k", Bytes("one"), new DistributedCacheEntryOptions());
        Cache.Set("k", Bytes("two"), new DistributedCacheEntryOptions());
        Assert.Equal(Bytes("two"), Cache.Get("k"));
    }

    [Fact]
    public void An_empty_value_is_stored_and_is_not_a_miss()
    {
        Cache.Set("empty", [], new DistributedCacheEntryOptions());
        byte[]? value = Cache.Get("empty");
        Assert.NotNull(value);
        Assert.Empty(value);
    }

    [Fact]
    public async Task Remove_removes_and_a_missing_key_is_a_no_op()
    {
        Cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions());
        Cache.Remove("k");
        Assert.Null(Cache.Get("k"));
        Cache.Remove("never-there");
        await Cache.RemoveAsync("never-there");
        Cache.Refresh("never-there");
        await Cache.RefreshAsync("never-there");
    }

    [Fact]
    public async Task Null_arguments_throw_ArgumentNullException()
    {
        var options = new DistributedCacheEntryOptions();
        Assert.Throws<ArgumentNullException>(() => Cache.Get(null!));
        Assert.Throws<ArgumentNullException>(() => Cache.Set(null!, Bytes("v"), options));
        Assert.Throws<ArgumentNullException>(() => Cache.Set("k", null!, options));
        Assert.Throws<ArgumentNullException>(() => Cache.Set("k", Bytes("v"), null!));
        Assert.Throws<ArgumentNullException>(() => Cache.Refresh(null!));
        Assert.Throws<ArgumentNullException>(() => Cache.Remove(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => Cache.GetAsync(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => Cache.SetAsync(null!, Bytes("v"), options));
        await Assert.ThrowsAsync<ArgumentNullException>(() => Cache.RemoveAsync(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => Cache.RefreshAsync(null!));
    }

    /// <summary>
    /// Common ground: an absolute expiration not in the future stores nothing. RedisCache and
    /// SqlServerCache throw ArgumentOutOfRangeException (SMD-SS does too, checked in its own
    /// tests); MemoryDistributedCache drops the entry silently.
    /// </summary>
    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    public void Absolute_expiration_not_in_the_future_stores_nothing(int seconds)
    {
        var options = new DistributedCacheEntryOptions { AbsoluteExpiration = Time.GetUtcNow().AddSeconds(seconds) };
        try
        {
            Cache.Set("k", Bytes("v"), options);
        }
        catch (ArgumentOutOfRangeException)
        {
            // The RedisCache behaviour.
        }

        Assert.Null(Cache.Get("k"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Non_positive_spans_throw_ArgumentOutOfRangeException(int seconds)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(seconds) });
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(seconds) });
    }

    [Fact]
    public void Absolute_expiration_expires()
    {
        Cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions { AbsoluteExpiration = Time.GetUtcNow().AddSeconds(10) });
        Time.Advance(TimeSpan.FromSeconds(9));
        Assert.NotNull(Cache.Get("k"));
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(Cache.Get("k"));
    }

    [Fact]
    public void Relative_expiration_expires()
    {
        Cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(10) });
        Time.Advance(TimeSpan.FromSeconds(9.5));
        Assert.NotNull(Cache.Get("k"));
        Time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Null(Cache.Get("k"));
    }

    [Fact]
    public void Sliding_expiration_expires_when_not_accessed()
    {
        Cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(10) });
        Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(Cache.Get("k"));
    }

    [Fact]
    public void Sliding_expiration_is_renewed_by_get()
    {
        Cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(10) });
        for (int i = 0; i < 5; i++)
        {
            Time.Advance(TimeSpan.FromSeconds(7));
            Assert.NotNull(Cache.Get("k"));
        }

        Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(Cache.Get("k"));
    }

    [Fact]
    public async Task Sliding_expiration_is_renewed_by_refresh()
    {
        Cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(10) });
        Time.Advance(TimeSpan.FromSeconds(7));
        Cache.Refresh("k");
        Time.Advance(TimeSpan.FromSeconds(7));
        await Cache.RefreshAsync("k");
        Time.Advance(TimeSpan.FromSeconds(7));
        Assert.NotNull(Cache.Get("k"));
    }

    [Fact]
    public void Sliding_renewal_never_passes_the_absolute_expiration()
    {
        Cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions
        {
            SlidingExpiration = TimeSpan.FromSeconds(10),
            AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(25),
        });
        Time.Advance(TimeSpan.FromSeconds(8));
        Assert.NotNull(Cache.Get("k"));
        Time.Advance(TimeSpan.FromSeconds(8));
        Assert.NotNull(Cache.Get("k"));
        Time.Advance(TimeSpan.FromSeconds(8));
        Assert.NotNull(Cache.Get("k"));
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(Cache.Get("k"));
    }

    [Fact]
    public void Relative_expiration_wins_over_absolute_when_both_are_set()
    {
        Cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions
        {
            AbsoluteExpiration = Time.GetUtcNow().AddHours(1),
            AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(5),
        });
        Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(Cache.Get("k"));
    }

    [Fact]
    public async Task Async_methods_behave_like_sync_ones()
    {
        await Cache.SetAsync("k", Bytes("v"), new DistributedCacheEntryOptions());
        Assert.Equal(Bytes("v"), await Cache.GetAsync("k"));
        await Cache.RemoveAsync("k");
        Assert.Null(await Cache.GetAsync("k"));
    }

    [Theory]
    [InlineData(1 << 20)]
    [InlineData(8 << 20)]
    public void Large_values_round_trip(int size)
    {
        byte[] value = new byte[size];
        new Random(size).NextBytes(value);
        Cache.Set("large", value, new DistributedCacheEntryOptions());
        Assert.Equal(value, Cache.Get("large"));
    }

    [Fact]
    public async Task Concurrent_callers_each_see_their_own_writes()
    {
        await Parallel.ForAsync(0, 16, async (caller, ct) =>
        {
            for (int i = 0; i < 200; i++)
            {
                string key = $"c{caller}:{i}";
                await Cache.SetAsync(key, Bytes(key), new DistributedCacheEntryOptions(), ct);
                Assert.Equal(Bytes(key), await Cache.GetAsync(key, ct));
            }
        });

        for (int caller = 0; caller < 16; caller++)
        {
            Assert.Equal(Bytes($"c{caller}:199"), Cache.Get($"c{caller}:199"));
        }
    }
}
