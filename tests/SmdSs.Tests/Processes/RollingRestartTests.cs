using System.Net;
using System.Text;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Processes;

/// <summary>
/// A deploy restarts every node of a web farm, one after another, on the same data directory,
/// while the farm keeps serving. Counted: failed requests and lost keys (both must be 0).
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class RollingRestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private readonly List<FarmProcess> _farm = [];

    public async Task InitializeAsync()
    {
        var first = new FarmProcess(_directory.Sub("n0"), []);
        _farm.Add(first);
        for (int i = 1; i < 5; i++)
        {
            _farm.Add(new FarmProcess(_directory.Sub("n" + i), [first.ClusterEndpoint, _farm[^1].ClusterEndpoint]));
        }

        await Task.WhenAll(_farm.Select(p => p.StartAsync()));
        await Eventually.TrueAsync(SettledAsync, TimeSpan.FromSeconds(90), "5 processes settled");
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
    public async Task Restarting_every_node_under_load_fails_no_request_and_loses_no_key()
    {
        var written = new Dictionary<string, string>();
        int failures = 0;
        int requests = 0;
        using var stop = new CancellationTokenSource();
        Task load = Task.Run(async () =>
        {
            int i = 0;
            while (!stop.IsCancellationRequested)
            {
                string key = "key" + (i % 500);
                string value = $"v{i}";
                Interlocked.Increment(ref requests);
                HttpStatusCode? status = await PutLikeALoadBalancerAsync(i, key, value);
                if (status == HttpStatusCode.NoContent)
                {
                    lock (written)
                    {
                        written[key] = value;
                    }
                }
                else
                {
                    Interlocked.Increment(ref failures);
                    output.WriteLine($"PUT {key}: {status?.ToString() ?? "no node answered"}");
                }

                i++;
            }
        });

        for (int n = 0; n < _farm.Count; n++)
        {
            await _farm[n].StopAsync();
            await _farm[n].StartAsync();
            await Eventually.TrueAsync(SettledAsync, TimeSpan.FromSeconds(90), $"settled after restarting node {n}");
        }

        await stop.CancelAsync();
        await load;
        output.WriteLine($"{requests} writes during the rolling restart, {failures} failed");

        int lost = 0;
        foreach (FarmProcess reader in _farm)
        {
            foreach ((string key, string value) in written)
            {
                using var get = await reader.Http.GetAsync($"/kv/{key}");
                string actual = get.StatusCode == HttpStatusCode.OK ? await get.Content.ReadAsStringAsync() : "(missing)";
                if (actual != value)
                {
                    lost++;
                    output.WriteLine($"{key} on {reader.HttpPort}: expected {value}, got {actual}");
                }
            }
        }

        Assert.Equal(0, failures);
        Assert.Equal(0, lost);
    }

    // A load balancer sends a request that cannot connect (the process is restarting) to the
    // next node; an answer with an error status is a failed request.
    private async Task<HttpStatusCode?> PutLikeALoadBalancerAsync(int round, string key, string value)
    {
        for (int attempt = 0; attempt < _farm.Count; attempt++)
        {
            FarmProcess via = _farm[(round + attempt) % _farm.Count];
            try
            {
                using var put = await via.Http.PutAsync($"/kv/{key}", new ByteArrayContent(Encoding.UTF8.GetBytes(value)));
                if (put.StatusCode != HttpStatusCode.NoContent)
                {
                    output.WriteLine($"PUT {key} via {via.HttpPort}: {put.StatusCode} {await put.Content.ReadAsStringAsync()}");
                }

                return put.StatusCode;
            }
            catch (HttpRequestException)
            {
                // Not listening (restarting): try the next node.
            }
        }

        return null;
    }

    private async Task<bool> SettledAsync()
    {
        try
        {
            SmdSsStatus?[] statuses = await Task.WhenAll(_farm.Select(p => p.StatusAsync()));
            return statuses.All(s => s is not null)
                && statuses.Select(s => s!.SliceMapDigest).Distinct().Count() == 1
                && statuses.Select(s => s!.NodeMapDigest).Distinct().Count() == 1
                && statuses[0]!.Nodes.Count(n => n.State == "Up") == _farm.Count
                && statuses[0]!.Slices.All(s => s.InSync.Count == 3);
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
