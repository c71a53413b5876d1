using SmdSs.Tests.Support;
using SmdSs.Transport;
using Xunit.Abstractions;

namespace SmdSs.Tests.Processes;

/// <summary>
/// docs/SECURITY.md's rotation of the cluster secret, on a farm of three processes under steady
/// load. The farm starts as step 1 leaves it (offering the old secret, accepting the new: step 1
/// itself adds an accepted secret to nodes that all still offer the old one); then every node is
/// restarted twice, one at a time: offering the new secret while accepting the old, then on the
/// new secret alone. No request fails, no key is lost, no handshake is refused.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class SecretRotationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string Old = ClusterKey.NewRandomSecret();
    private static readonly string New = ClusterKey.NewRandomSecret();
    private readonly TempDirectory _directory = new();
    private readonly List<FarmProcess> _farm = [];

    public async Task InitializeAsync()
    {
        var first = new FarmProcess(_directory.Sub("n0"), [], Offer(Old, accepting: New));
        _farm.Add(first);
        _farm.Add(new FarmProcess(_directory.Sub("n1"), [first.ClusterEndpoint], Offer(Old, accepting: New)));
        _farm.Add(new FarmProcess(_directory.Sub("n2"), [first.ClusterEndpoint, _farm[1].ClusterEndpoint], Offer(Old, accepting: New)));
        await Task.WhenAll(_farm.Select(p => p.StartAsync()));
        await FarmProcess.WaitQuietAsync(_farm, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(90), "3 processes settled");
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
    public async Task Rolling_a_new_cluster_secret_through_the_farm_under_load_fails_no_request()
    {
        var balancer = new FarmLoadBalancer(_farm);
        var load = new KeyValueLoad(balancer, output) { Callers = 1, KeysPerCaller = 300 };
        using var stop = new CancellationTokenSource();
        Task running = load.RunAsync(stop.Token);

        (string Step, string[] Settings)[] steps =
        [
            ("offer the new secret", Offer(New, accepting: Old)),
            ("drop the old secret", Offer(New)),
        ];
        foreach ((string step, string[] settings) in steps)
        {
            for (int n = 0; n < _farm.Count; n++)
            {
                _farm[n].Settings = settings;
                await _farm[n].StopAsync();
                await _farm[n].StartAsync();
                balancer.Readmit(_farm[n]);
                await FarmProcess.WaitQuietAsync(_farm, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(90), $"settled after node {n}: {step}");
            }
        }

        await stop.CancelAsync();
        await running;
        output.WriteLine($"{load.Requests} writes during the rotation (6 restarts), {load.Failed} failed");
        int lost = await load.CountLostAsync(_farm);
        if (load.Failed != 0 || lost != 0)
        {
            FarmProcess.WriteOutputs(output, _farm);
        }

        Assert.Equal(0, load.Failed);
        Assert.Equal(0, lost);
        Assert.All(_farm, p => Assert.DoesNotContain("wrong or missing cluster secret", p.Output, StringComparison.Ordinal));
    }

    private static string[] Offer(string secret, string? accepting = null) =>
        accepting is null
            ? [$"--SmdSs:ClusterSecret={secret}"]
            : [$"--SmdSs:ClusterSecret={secret}", $"--SmdSs:AdditionalClusterSecrets:0={accepting}"];
}
