using SmdSs.Benchmarks;
using SmdSs.Benchmarks.Cluster;
using SmdSs.Benchmarks.Increments;

// A worker process of the --increments mode, started by the harness (this same executable).
if (args is [IncrementWorker.Flag, ..])
{
    return await IncrementWorker.RunAsync(args[1..]);
}

if (args is [FrameCost.Flag])
{
    foreach (int bytes in new[] { 100, 1024, 64 * 1024 })
    {
        Console.WriteLine(FrameCost.Measure(bytes));
    }

    return 0;
}

MarkdownReport.CaptureLoadAtStart();

if (BenchmarkSettings.Parse(args, out string? error) is not { } settings)
{
    if (!string.IsNullOrEmpty(error))
    {
        Console.Error.WriteLine(error);
    }

    Console.Error.WriteLine(BenchmarkSettings.Usage);
    return string.IsNullOrEmpty(error) ? 0 : 2;
}

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Stop after the current scenario so data directories are deleted and processes stopped.
    e.Cancel = true;
    cancellation.Cancel();
};

try
{
    if (settings.RunSingle)
    {
        await SingleNodeBenchmark.RunAsync(settings, cancellation.Token);
    }

    if (settings.RunCluster)
    {
        await ClusterBenchmark.RunAsync(settings, cancellation.Token);
    }

    if (settings.RunIncrements)
    {
        await IncrementBenchmark.RunAsync(settings, cancellation.Token);
    }
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    Console.Error.WriteLine("Cancelled.");
    return 130;
}
catch (Exception ex) when (ex is not OutOfMemoryException)
{
    // Everything started has been stopped and deleted by now; say why the run failed.
    Console.Error.WriteLine();
    Console.Error.WriteLine("Benchmark failed: " + ex);
    return 1;
}

return 0;
