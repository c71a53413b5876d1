using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Processes;

/// <summary>
/// A deploy restarts every node of a web farm, one after another, on the same data directory,
/// while the farm keeps serving. Counted: failed requests and lost keys (both must be 0), and
/// the bytes moved beyond catch-up: whole slice copies sent to a returning node (must be 0 —
/// it keeps its slices and is sent only the writes it missed).
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
        await FarmProcess.WaitQuietAsync(_farm, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(90), "5 processes settled");
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
        var balancer = new FarmLoadBalancer(_farm);
        var load = new KeyValueLoad(balancer, output) { Callers = 1, KeysPerCaller = 500 };
        using var stop = new CancellationTokenSource();
        Task running = load.RunAsync(stop.Token);

        SmdSsRepairStatus moved = RepairTotals.Zero;
        for (int n = 0; n < _farm.Count; n++)
        {
            // The others do the catching up; their tallies live as long as they run, so take
            // the difference over this one restart.
            List<FarmProcess> others = [.. _farm.Where((_, i) => i != n)];
            SmdSsRepairStatus before = await RepairTotals.SumAsync(others);
            await _farm[n].StopAsync();
            await _farm[n].StartAsync();
            balancer.Readmit(_farm[n]);
            // Three placement rounds without a change: the next stop does not catch a move half done.
            await FarmProcess.WaitQuietAsync(_farm, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(90), $"settled after restarting node {n}");
            moved = RepairTotals.Add(moved, RepairTotals.Subtract(await RepairTotals.SumAsync(others), before));
        }

        await stop.CancelAsync();
        await running;
        output.WriteLine($"{load.Requests} writes during the rolling restart, {load.Failed} failed");
        output.WriteLine($"catch-ups: {moved.DeltaCatchUps} delta ({moved.DeltaCatchUpBytes} bytes), {moved.FullCatchUps} full copies ({moved.FullCatchUpBytes} bytes moved beyond catch-up), {moved.KeysRepaired} keys repaired by anti-entropy");

        int lost = await load.CountLostAsync(_farm);
        Assert.Equal(0, load.Failed);
        Assert.Equal(0, lost);
        if (moved.FullCatchUpBytes != 0)
        {
            FarmProcess.WriteOutputs(output, _farm);
        }

        Assert.Equal(0, moved.FullCatchUpBytes);
    }
}
