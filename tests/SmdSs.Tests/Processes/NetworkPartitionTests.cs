using System.Diagnostics;
using System.Net;
using System.Text;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Processes;

/// <summary>
/// A real network partition: three WebFarm processes, each in its own Linux network namespace
/// behind a bridge; one node's link goes down. The two others take its slices over and keep
/// accepting writes; when the link comes back the cut-off node rejoins, catches up, and every
/// node answers every acknowledged write. Needs root (the tests run as root).
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class NetworkPartitionTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private readonly List<FarmProcess> _farm = [];
    private NetworkNamespaces? _network;

    public async Task InitializeAsync()
    {
        _network = new NetworkNamespaces(3);
        for (int i = 0; i < 3; i++)
        {
            string[] friends = i == 0 ? [] : [_farm[0].ClusterEndpoint];
            _farm.Add(new FarmProcess(_directory.Sub("n" + i), friends, host: _network.Address(i), networkNamespace: _network.Namespace(i)));
        }

        await Task.WhenAll(_farm.Select(p => p.StartAsync()));
        await Eventually.TrueAsync(() => FarmProcess.SettledAsync(_farm), TimeSpan.FromSeconds(40), "3 processes in 3 namespaces settled");
    }

    public async Task DisposeAsync()
    {
        foreach (FarmProcess process in _farm)
        {
            await process.DisposeAsync();
        }

        _network?.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task The_majority_keeps_writing_through_a_partition_and_the_cut_off_node_catches_up_after_it()
    {
        try
        {
            await PartitionAsync();
        }
        catch
        {
            FarmProcess.WriteOutputs(output, _farm);

            throw;
        }
    }

    private async Task PartitionAsync()
    {
        for (int i = 0; i < 60; i++)
        {
            await PutUntilAcceptedAsync(_farm[i % 3], "k" + i, "before" + i);
        }

        _network!.Cut(0);
        var sinceCut = Stopwatch.StartNew();
        int refused = 0;
        for (int i = 0; i < 60; i++)
        {
            refused += await PutUntilAcceptedAsync(_farm[1 + (i % 2)], "k" + i, "during" + i);
        }

        output.WriteLine($"partition: 60 writes on the majority side acknowledged {sinceCut.Elapsed.TotalSeconds:0.0} s after the cut ({refused} attempts refused while it took over)");

        _network.Heal(0);
        var sinceHeal = Stopwatch.StartNew();
        await Eventually.TrueAsync(() => FarmProcess.SettledAsync(_farm), TimeSpan.FromSeconds(60), "the cut-off node rejoined and caught up");
        output.WriteLine($"healed: all 3 nodes settled {sinceHeal.Elapsed.TotalSeconds:0.0} s after the link came back");

        foreach (FarmProcess process in _farm)
        {
            for (int i = 0; i < 60; i++)
            {
                using HttpResponseMessage get = await process.Http.GetAsync($"/kv/k{i}");
                Assert.Equal("during" + i, await get.Content.ReadAsStringAsync());
            }
        }
    }

    // Returns the attempts refused before the write was acknowledged (a takeover under way).
    private static async Task<int> PutUntilAcceptedAsync(FarmProcess process, string key, string value)
    {
        var deadline = Stopwatch.StartNew();
        for (int refused = 0; ; refused++)
        {
            using HttpResponseMessage put = await process.Http.PutAsync($"/kv/{key}", new ByteArrayContent(Encoding.UTF8.GetBytes(value)));
            if (put.StatusCode == HttpStatusCode.NoContent)
            {
                return refused;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"PUT {key} through {process.Host}: {put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }
    }
}
