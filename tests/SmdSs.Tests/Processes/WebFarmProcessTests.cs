using System.Net;
using System.Text;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Processes;

/// <summary>samples/WebFarm instances as separate processes on loopback: the cluster as users run it.</summary>
[Collection(ClusterTestGroup.Name)]
public sealed class WebFarmProcessTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private readonly List<FarmProcess> _farm = [];

    public async Task InitializeAsync()
    {
        var first = new FarmProcess(_directory.Sub("n0"), []);
        _farm.Add(first);
        _farm.Add(new FarmProcess(_directory.Sub("n1"), [first.ClusterEndpoint]));
        _farm.Add(new FarmProcess(_directory.Sub("n2"), [first.ClusterEndpoint]));
        await Task.WhenAll(_farm.Select(p => p.StartAsync()));
        await Eventually.TrueAsync(() => FarmProcess.SettledAsync(_farm), TimeSpan.FromSeconds(60), "3 processes settled");
    }

    public async Task DisposeAsync()
    {
        foreach (FarmProcess process in _farm)
        {
            await process.DisposeAsync();
        }

        _directory.Dispose();
    }

    [Fact]
    public async Task Writes_through_one_process_are_read_through_the_others_and_survive_a_kill_9()
    {
        try
        {
            await WriteReadKillAsync();
        }
        catch
        {
            FarmProcess.WriteOutputs(output, _farm);

            throw;
        }
    }

    private async Task WriteReadKillAsync()
    {
        for (int i = 0; i < 50; i++)
        {
            using var put = await _farm[i % 3].Http.PutAsync($"/kv/key{i}", new ByteArrayContent(Encoding.UTF8.GetBytes("value" + i)));
            Assert.True(put.StatusCode == HttpStatusCode.NoContent, $"PUT key{i}: {put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }

        await AssertAllReadableAsync(_farm, 50);
        using (var missing = await _farm[1].Http.GetAsync("/kv/never-written"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        _farm[2].Kill();
        DateTime killed = DateTime.UtcNow;
        for (int i = 50; i < 80; i++)
        {
            using var put = await _farm[i % 2].Http.PutAsync($"/kv/key{i}", new ByteArrayContent(Encoding.UTF8.GetBytes("value" + i)));
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        }

        output.WriteLine($"30 writes after kill -9 took {(DateTime.UtcNow - killed).TotalMilliseconds:0} ms");
        await AssertAllReadableAsync(_farm.Take(2), 80);

        using var delete = await _farm[0].Http.DeleteAsync("/kv/key0");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var gone = await _farm[1].Http.GetAsync("/kv/key0");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    private static async Task AssertAllReadableAsync(IEnumerable<FarmProcess> readers, int count)
    {
        foreach (FarmProcess reader in readers)
        {
            for (int i = 0; i < count; i++)
            {
                using var get = await reader.Http.GetAsync($"/kv/key{i}");
                Assert.True(get.StatusCode == HttpStatusCode.OK, $"key{i} on port {reader.HttpPort}: {get.StatusCode}");
                Assert.Equal("value" + i, await get.Content.ReadAsStringAsync());
            }
        }
    }
}
