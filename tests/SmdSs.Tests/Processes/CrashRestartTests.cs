using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Processes;

/// <summary>
/// Crash recovery: a process is killed with kill -9 in the middle of writes and restarted on
/// the same data directory (within the grace period). It rejoins, is sent only the writes it
/// missed (no whole-slice copy), and serves again; no acknowledged write (W=2) is lost on any
/// process, the restarted one included.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class CrashRestartTests(ITestOutputHelper output) : IAsyncLifetime
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
        await Eventually.TrueAsync(() => FarmProcess.SettledAsync(_farm), TimeSpan.FromSeconds(40), "3 processes settled");
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
    public async Task A_process_killed_mid_writes_and_restarted_on_its_data_catches_up_and_loses_no_acknowledged_write()
    {
        var balancer = new FarmLoadBalancer(_farm);
        var load = new KeyValueLoad(balancer, output) { Callers = 4, KeysPerCaller = 50, MaxRequests = 100_000, MaxDuration = TimeSpan.FromSeconds(40) };
        using var stop = new CancellationTokenSource();
        Task running = load.RunAsync(stop.Token);
        SmdSsRepairStatus before;
        try
        {
            await Eventually.TrueAsync(() => load.Requests >= 300 || running.IsCompleted, TimeSpan.FromSeconds(20), "load under way");
            before = await RepairTotals.SumAsync([_farm[0], _farm[2]]);
            _farm[1].Kill();
            await _farm[1].StartAsync();
            balancer.Readmit(_farm[1]);
            await Eventually.TrueAsync(() => FarmProcess.SettledAsync(_farm), TimeSpan.FromSeconds(40), "the restarted process caught up");
            int atRecovery = load.Requests;
            await Eventually.TrueAsync(() => load.Requests >= atRecovery + 300 || running.IsCompleted, TimeSpan.FromSeconds(20), "load after the restart");
        }
        catch
        {
            FarmProcess.WriteOutputs(output, _farm);

            throw;
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }

        SmdSsRepairStatus moved = RepairTotals.Subtract(await RepairTotals.SumAsync([_farm[0], _farm[2]]), before);
        int lost = await load.CountLostAsync(_farm);
        output.WriteLine(
            $"requests={load.Requests} failed={load.Failed} rawErrors={balancer.RawErrors} slowest={load.Slowest.TotalSeconds:0.00}s lost={lost} " +
            $"delta catch-ups={moved.DeltaCatchUps} ({moved.DeltaCatchUpBytes} bytes) full copies={moved.FullCatchUps} ({moved.FullCatchUpBytes} bytes)");
        Assert.Equal(0, lost);
        Assert.Equal(0, load.Failed);
        Assert.Equal(0, moved.FullCatchUpBytes);
    }
}
