using System.Diagnostics;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Processes;

/// <summary>
/// One process of a web farm dies (kill -9: no goodbye, no flush) while callers write and read
/// through a load balancer. Measured, one line a run: requests, failed requests as the callers
/// saw them, raw connection errors the balancer sent elsewhere, the slowest request, the time
/// from the kill until every slice again has min(3, survivors) in-sync replicas on the
/// survivors only, and keys lost. Failed and lost must be 0.
/// </summary>
/// <remarks>
/// A short ReplacementGracePeriod lets the dead node's replicas be replaced within the test;
/// failure detection keeps its default (4 s), as a farm runs it.
/// </remarks>
[Collection(ClusterTestGroup.Name)]
public sealed class KillUnderLoadTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] Settings = ["--SmdSs:ReplacementGracePeriod=00:00:02"];

    private readonly TempDirectory _directory = new();
    private readonly List<FarmProcess> _farm = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (FarmProcess process in _farm)
        {
            await process.DisposeAsync();
        }

        _directory.Dispose();
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public Task Kill_9_of_a_process_under_load_fails_no_request_and_loses_no_key(int farmSize) =>
        KillUnderLoadAsync(farmSize, victim: farmSize / 2);

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public Task Kill_9_of_everyones_friend_under_load_fails_no_request_and_loses_no_key(int farmSize) =>
        KillUnderLoadAsync(farmSize, victim: 0);

    private async Task KillUnderLoadAsync(int farmSize, int victim)
    {
        // The first process is everyone's friend; each later one also knows the one before it.
        var first = new FarmProcess(_directory.Sub("n0"), [], Settings);
        _farm.Add(first);
        for (int i = 1; i < farmSize; i++)
        {
            _farm.Add(new FarmProcess(_directory.Sub("n" + i), [.. new[] { first.ClusterEndpoint, _farm[^1].ClusterEndpoint }.Distinct()], Settings));
        }

        try
        {
            await Task.WhenAll(_farm.Select(p => p.StartAsync()));
            await Eventually.TrueAsync(() => FarmProcess.SettledAsync(_farm), TimeSpan.FromSeconds(40), $"{farmSize} processes settled");
            await RunAsync(farmSize, victim);
        }
        catch
        {
            FarmProcess.WriteOutputs(output, _farm);

            throw;
        }
    }

    private async Task RunAsync(int farmSize, int victim)
    {
        const int RequestsBeforeKill = 300;
        const int RequestsAfterRecovery = 300;
        List<FarmProcess> survivors = [.. _farm.Where((_, i) => i != victim)];
        var balancer = new FarmLoadBalancer(_farm);
        var load = new KeyValueLoad(balancer, output)
        {
            Callers = 8,
            KeysPerCaller = 25,
            ReadBack = true,
            MaxRequests = 100_000,
            MaxDuration = TimeSpan.FromSeconds(35),
        };
        using var stop = new CancellationTokenSource();
        Task running = load.RunAsync(stop.Token);
        TimeSpan recovery;
        bool loadedThroughRecovery;
        try
        {
            await Eventually.TrueAsync(() => load.Requests >= RequestsBeforeKill || running.IsCompleted, TimeSpan.FromSeconds(20), "load under way");
            _farm[victim].Kill();
            var sinceKill = Stopwatch.StartNew();
            await Eventually.TrueAsync(() => FarmProcess.SettledAsync(survivors), TimeSpan.FromSeconds(30), "every slice on the survivors, in sync");
            recovery = sinceKill.Elapsed;
            loadedThroughRecovery = !running.IsCompleted;

            // The load goes on for a while on the recovered cluster.
            int atRecovery = load.Requests;
            await Eventually.TrueAsync(() => load.Requests >= atRecovery + RequestsAfterRecovery || running.IsCompleted, TimeSpan.FromSeconds(20), "load after recovery");
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }

        int lost = await load.CountLostAsync(survivors);
        output.WriteLine(
            $"farm={farmSize} killed=n{victim} requests={load.Requests} failed={load.Failed} (wrongReads={load.WrongReads}) " +
            $"rawErrors={balancer.RawErrors} slowest={load.Slowest.TotalSeconds:0.00}s recover={recovery.TotalSeconds:0.0}s lost={lost}");
        Assert.True(loadedThroughRecovery, "The load reached its bounds before the cluster recovered: raise them.");
        Assert.Equal(0, lost);
        Assert.Equal(0, load.Failed);
    }
}
