using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using SmdSs.AspNetCore;
using SmdSs.Tests.Support;
using WebFarm;

namespace SmdSs.Tests.Security;

/// <summary>
/// Keys in SMD-SS's reserved namespace (the Data Protection key ring) cannot be read, written or
/// scanned through any public API, nor through the sample farm's /kv routes, while SMD-SS's own
/// use of them works.
/// </summary>
public sealed class ReservedKeyTests : IDisposable
{
    private const string RingKey = "smdss:data-protection:keys";
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Every_key_value_and_cache_method_refuses_a_reserved_key_with_ArgumentException()
    {
        await using SmdSsNode node = await TestNodes.StartAsync(_directory.Path);
        byte[] secretBytes = "<key-ring>master key</key-ring>"u8.ToArray();
        Assert.True((await node.CompareAndSwapInternalAsync(RingKey, 0, secretBytes)).Swapped);
        // Through the interface, as an app holds it.
#pragma warning disable CA1859
        ISmdSsKeyValueStore store = node;
#pragma warning restore CA1859
        var cache = new SmdSsDistributedCache(node);

        Func<Task>[] calls =
        [
            async () => await store.GetAsync(RingKey),
            async () => await store.SetAsync(RingKey, new byte[] { 1 }),
            async () => await store.RemoveAsync(RingKey),
            async () => await store.ExistsAsync(RingKey),
            async () => await store.GetTimeToLiveAsync(RingKey),
            async () => await store.RefreshAsync(RingKey),
            async () => await store.IncrementAsync(RingKey),
            async () => await store.AppendAsync(RingKey, new byte[] { 1 }),
            async () => await store.CompareAndSwapAsync(RingKey, 1, new byte[] { 1 }),
            async () => await store.GetVersionedAsync(RingKey),
            async () => await store.ExecuteAsync(RingKey, "any"),
            async () => await store.GetOrAddAsync(RingKey, _ => ValueTask.FromResult(new byte[] { 1 })),
            () => Task.FromResult(cache.Get(RingKey)),
            async () => await cache.GetAsync(RingKey),
            () => { cache.Set(RingKey, new byte[] { 1 }, new DistributedCacheEntryOptions()); return Task.CompletedTask; },
            async () => await cache.SetAsync(RingKey, new byte[] { 1 }, new DistributedCacheEntryOptions()),
            () => { cache.Remove(RingKey); return Task.CompletedTask; },
            async () => await cache.RemoveAsync(RingKey),
            () => { cache.Refresh(RingKey); return Task.CompletedTask; },
            async () => await cache.RefreshAsync(RingKey),
            () => Task.FromResult(cache.TryGet(RingKey, new System.Buffers.ArrayBufferWriter<byte>())),
            async () => await cache.TryGetAsync(RingKey, new System.Buffers.ArrayBufferWriter<byte>()),
        ];
        for (int i = 0; i < calls.Length; i++)
        {
            var error = await Assert.ThrowsAnyAsync<ArgumentException>(calls[i]);
            Assert.Contains("reserved for SMD-SS's own data", error.Message, StringComparison.Ordinal);
        }

        // Untouched, and still SMD-SS's own to use; scans never show it.
        Assert.Equal(secretBytes, (await node.GetVersionedInternalAsync(RingKey))!.Value);
        await store.SetAsync("smdss-not-reserved", new byte[] { 2 });
        await store.SetAsync("SMDSS:other-case", new byte[] { 3 });
        Assert.Equal(["SMDSS:other-case", "smdss-not-reserved"], (await store.ScanKeysAsync("")).Order(StringComparer.Ordinal));
        Assert.Empty(await store.ScanAsync("smdss:"));
        Assert.Equal(2, await store.CountKeysAsync());
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task The_sample_farms_kv_routes_cannot_reach_the_data_protection_key_ring(string method)
    {
        await using WebApplication app = WebFarmApp.Build(
            [$"--SmdSs:DataDirectory={_directory.Path}", "--SmdSs:Listen=127.0.0.1:0"],
            builder => builder.WebHost.UseTestServer());
        await app.StartAsync();
        using HttpClient client = app.GetTestClient();
        // The app's first page view makes Data Protection create the ring.
        using (HttpResponseMessage page = await client.GetAsync("/"))
        {
            page.EnsureSuccessStatusCode();
        }

        SmdSsNode node = app.Services.GetRequiredService<SmdSsNode>();
        byte[] ring = (await node.GetVersionedInternalAsync(RingKey))?.Value ?? throw new InvalidOperationException("no key ring was stored");

        using var request = new HttpRequestMessage(new HttpMethod(method), "/kv/" + Uri.EscapeDataString(RingKey)) { Content = new ByteArrayContent([1, 2, 3]) };
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("<key", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(ring, (await node.GetVersionedInternalAsync(RingKey))!.Value);
        await app.StopAsync();
    }

    public void Dispose() => _directory.Dispose();
}
