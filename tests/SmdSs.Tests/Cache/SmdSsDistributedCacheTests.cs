using System.Buffers;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.AspNetCore;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Cache;

/// <summary>The contract against SMD-SS, plus what SMD-SS promises beyond MemoryDistributedCache.</summary>
public sealed class SmdSsDistributedCacheTests : DistributedCacheContract, IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private SmdSsNode _node = null!;
    private SmdSsDistributedCache _cache = null!;

    protected override IDistributedCache Cache => _cache;

    public async Task InitializeAsync()
    {
        _node = await TestNodes.StartAsync(_directory.Path, Time);
        _cache = new SmdSsDistributedCache(_node);
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task A_cancelled_token_throws_and_writes_nothing()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _cache.SetAsync("k", Bytes("v"), new DistributedCacheEntryOptions(), cancelled.Token));
        Assert.Null(_cache.Get("k"));

        _cache.Set("k", Bytes("v"), new DistributedCacheEntryOptions());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _cache.RemoveAsync("k", cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _cache.GetAsync("k", cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _cache.RefreshAsync("k", cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _cache.SetAsync("k", new ReadOnlySequence<byte>(Bytes("w")), new DistributedCacheEntryOptions(), cancelled.Token).AsTask());
        Assert.Equal(Bytes("v"), _cache.Get("k"));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    public async Task Absolute_expiration_not_in_the_future_throws_ArgumentOutOfRangeException_like_RedisCache(int seconds)
    {
        var options = new DistributedCacheEntryOptions { AbsoluteExpiration = Time.GetUtcNow().AddSeconds(seconds) };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _cache.Set("k", Bytes("v"), options));
        Assert.Equal(nameof(DistributedCacheEntryOptions.AbsoluteExpiration), error.ParamName);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _cache.SetAsync("k", Bytes("v"), options));
    }

    [Fact]
    public void Stored_values_are_copies_in_both_directions()
    {
        byte[] written = Bytes("original");
        _cache.Set("k", written, new DistributedCacheEntryOptions());
        written[0] = (byte)'X';
        byte[] read = _cache.Get("k")!;
        read[1] = (byte)'Y';

        Assert.Equal(Bytes("original"), _cache.Get("k"));
    }

    [Fact]
    public void Empty_and_oversized_keys_and_oversized_values_throw_ArgumentException_and_write_nothing()
    {
        long diskBefore = _node.Store!.DiskBytes;
        Assert.Throws<ArgumentException>(() => _cache.Set("", Bytes("v"), new DistributedCacheEntryOptions()));
        Assert.Throws<ArgumentException>(() => _cache.Get(""));
        Assert.Throws<ArgumentException>(() => _cache.Set(new string('k', SmdSsLimits.MaxKeyBytes + 1), Bytes("v"), new DistributedCacheEntryOptions()));
        Assert.Throws<ArgumentException>(() => _cache.Set("\uD800lone", Bytes("v"), new DistributedCacheEntryOptions()));
        Assert.Throws<ArgumentException>(() => _cache.Set("big", new byte[(16 << 20) + 1], new DistributedCacheEntryOptions()));
        Assert.Equal(diskBefore, _node.Store!.DiskBytes);

        _cache.Set(new string('k', SmdSsLimits.MaxKeyBytes), Bytes("v"), new DistributedCacheEntryOptions());
        Assert.Equal(Bytes("v"), _cache.Get(new string('k', SmdSsLimits.MaxKeyBytes)));
    }

    [Fact]
    public async Task Buffer_interface_round_trips_multi_segment_values()
    {
        byte[] first = [1, 2, 3];
        byte[] second = [4, 5];
        var start = new Segment(first);
        Segment end = start.Append(second);
        var sequence = new ReadOnlySequence<byte>(start, 0, end, second.Length);

        await _cache.SetAsync("seq", sequence, new DistributedCacheEntryOptions());
        var writer = new ArrayBufferWriter<byte>();
        Assert.True(await _cache.TryGetAsync("seq", writer));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, writer.WrittenSpan.ToArray());
        Assert.False(_cache.TryGet("missing", new ArrayBufferWriter<byte>()));
    }

    [Fact]
    public async Task Expired_entries_are_purged_from_memory_by_the_sweep()
    {
        _cache.Set("short", Bytes("v"), new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(1) });
        _cache.Set("long", Bytes("v"), new DistributedCacheEntryOptions());
        Assert.Equal(2, _node.Store!.Count);

        Time.Advance(TimeSpan.FromMinutes(2));
        _node.RunMaintenance();

        Assert.Equal(1, _node.Store!.Count);
        Assert.True(await _node.ExistsAsync("long"));
    }

    [Fact]
    public void A_sliding_renewal_survives_a_restart()
    {
        _cache.Set("s", Bytes("v"), new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(30) });
        Time.Advance(TimeSpan.FromSeconds(20));
        Assert.NotNull(_cache.Get("s"));
        RestartNode();
        Time.Advance(TimeSpan.FromSeconds(20));

        Assert.NotNull(_cache.Get("s"));
    }

    private void RestartNode()
    {
        _node.StopAsync().GetAwaiter().GetResult();
        _node.StartAsync().GetAwaiter().GetResult();
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
