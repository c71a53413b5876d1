using System.Diagnostics;
using System.Globalization;
using SmdSs.Benchmarks.Cluster;
using SmdSs.Benchmarks.Subjects;

namespace SmdSs.Benchmarks.Increments;

/// <summary>
/// The --increments mode: increments per second from three worker processes, first against a
/// local redis-server (INCR through StackExchange.Redis), then as three SMD-SS nodes forming one
/// cluster (IncrementAsync), each in two scenarios: one hot counter and 1,000 counters. After
/// each scenario the counters are read back: their sum must equal the acknowledged increments.
/// </summary>
internal static class IncrementBenchmark
{
    private const int CallersPerProcess = 16;

    public static async Task RunAsync(BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var report = new IncrementReport(settings.Timing);
        report.Facts.Add(Format($"Processes: {WorkerGroup.Count} worker processes per subject (this executable with --increment-worker, server GC), {CallersPerProcess} concurrent callers each awaiting one increment at a time = {WorkerGroup.Count * CallersPerProcess} in flight; all workers start their callers at the same moment"));
        report.Facts.Add("Scenarios: 1 hot counter (every caller increments the same key); 1,000 counters (each call picks one of 1,000 keys uniformly at random); counters deleted before each scenario");
        string workDirectory = settings.WorkDirectory ?? Path.Combine(Path.GetTempPath(), "smdss-increments-bench-" + Guid.NewGuid().ToString("N"));
        string runId = Guid.NewGuid().ToString("N")[..8];
        try
        {
            await MeasureRedisAsync(settings, workDirectory, runId, report, cancellationToken).ConfigureAwait(false);
            await MeasureSmdSsAsync(settings, workDirectory, runId, report, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // run.sh owns the directory it passed and deletes it; one made here is deleted here.
            if (settings.WorkDirectory is null && Directory.Exists(workDirectory))
            {
                Directory.Delete(workDirectory, recursive: true);
            }
        }

        report.Print();
        report.Write(settings.IncrementsOutputPath);
        Console.WriteLine();
        Console.WriteLine("Written to " + settings.IncrementsOutputPath);
        if (!report.AllSumsMatch)
        {
            throw new InvalidOperationException("The counters do not add up to the acknowledged increments: " + string.Join("; ",
                report.Results.Where(r => !r.SumMatches).Select(r => Format($"{r.Subject} {r.Scenario.Name}: sum {r.CountersSum:N0}, acknowledged {r.Acknowledged:N0}, failed calls {r.Errors:N0}"))));
        }
    }

    private static async Task MeasureRedisAsync(BenchmarkSettings settings, string workDirectory, string runId, IncrementReport report, CancellationToken cancellationToken)
    {
        var server = new RedisSubject(settings.RedisEndpoint!);
        await server.ReadServerInfoAsync().ConfigureAwait(false);
        Progress.Line($"Redis {server.ServerVersion} at {settings.RedisEndpoint}: starting {WorkerGroup.Count} worker processes");
        await using WorkerGroup group = await WorkerGroup.StartRedisAsync(settings.RedisEndpoint!, workDirectory, cancellationToken).ConfigureAwait(false);
        CpuUsage cpu = CpuOf(group);
        if (server.ServerProcessId is { } pid)
        {
            cpu.Add("redis-server", pid);
        }

        report.Facts.Add(Format($"Redis: redis-server {server.ServerVersion} on {settings.RedisEndpoint} (loopback, --save '' --appendonly no, one server thread), each worker one ConnectionMultiplexer, INCR via IDatabase.StringIncrementAsync; measured first"));
        await MeasureAsync(group, IncrementReport.Redis, $"{runId}:redis", settings.Timing, report, cpu, cancellationToken).ConfigureAwait(false);
    }

    private static async Task MeasureSmdSsAsync(BenchmarkSettings settings, string workDirectory, string runId, IncrementReport report, CancellationToken cancellationToken)
    {
        Progress.Line($"SMD-SS: starting {WorkerGroup.Count} worker processes, one node each");
        await using WorkerGroup group = await WorkerGroup.StartSmdSsAsync(workDirectory, cancellationToken).ConfigureAwait(false);
        SmdSsStatus settled = group.Settled!;
        Progress.Line($"SMD-SS cluster settled in {group.StartTime.TotalSeconds:0.0} s: in-sync slices per node {ClusterSettle.HeldPerNode(settled)}");
        string prefix = $"{runId}:smdss";
        report.Facts.Add(Format($"SMD-SS: each worker embeds one node (new SmdSsNode + StartAsync; Listen 127.0.0.1:0, own data directory, FsyncPolicy.EverySecond, ReplicationFactor {SmdSsCounterStore.ReplicationFactor}); the 2nd and 3rd join through the 1st; settled {group.StartTime.TotalSeconds:0.0} s after the first started; {settled.Slices.Count} slices, in-sync slices per node {ClusterSettle.HeldPerNode(settled)}"));
        report.Facts.Add(DescribePrimaries(group, settled, prefix));
        await MeasureAsync(group, IncrementReport.SmdSs, prefix, settings.Timing, report, CpuOf(group), cancellationToken).ConfigureAwait(false);

        IReadOnlyList<SmdSsStatus?> now = await group.StatusesAsync(cancellationToken).ConfigureAwait(false);
        if (now.Any(s => s is null || s.SliceMapDigest != settled.SliceMapDigest || s.NodeMapDigest != settled.NodeMapDigest))
        {
            report.Warnings.Add("The node map or slice map changed while measuring. " + ClusterSettle.Describe(now, SmdSsCounterStore.ReplicationFactor));
        }
    }

    private static async Task MeasureAsync(WorkerGroup group, string subject, string prefix, RunTiming timing, IncrementReport report, CpuUsage cpu, CancellationToken cancellationToken)
    {
        foreach (IncrementScenario scenario in IncrementScenario.All)
        {
            string keys = KeyPrefix(prefix, scenario);
            await group.ResetAsync(keys, scenario, cancellationToken).ConfigureAwait(false);
            Dictionary<string, TimeSpan> cpuBefore = cpu.Snapshot();
            long started = Stopwatch.GetTimestamp();
            WorkerTally[] tallies = await group.RunAsync(keys, scenario, CallersPerProcess, timing, cancellationToken).ConfigureAwait(false);
            report.Notes.Add($"CPUs busy during {subject}, {scenario.Name} (warm-up included): {cpu.Describe(cpuBefore, Stopwatch.GetElapsedTime(started))}");
            long sum = await group.SumAsync(keys, scenario, cancellationToken).ConfigureAwait(false);
            var result = new IncrementResult(scenario, subject, tallies, timing.Measure, sum);
            report.Results.Add(result);
            Progress.Line($"  {subject,-7} {scenario.Name,-15} {result.IncrementsPerSecond,10:N0} increments/s  p50 {result.P50Microseconds:0} µs  p99 {result.P99Microseconds:0} µs  acknowledged {result.Acknowledged:N0}, counters sum {sum:N0}, failed calls {result.Errors:N0}");
            for (int i = 0; i < tallies.Length; i++)
            {
                if (tallies[i].Errors > 0)
                {
                    report.Warnings.Add(Format($"{group.Workers[i].Name}, {scenario.Name}: {tallies[i].Errors:N0} increments failed (outcome unknown), first: {tallies[i].FirstError}"));
                }
            }
        }

        WarnAboutLogs(group, report);
    }

    private static void WarnAboutLogs(WorkerGroup group, IncrementReport report)
    {
        foreach (WorkerProcess worker in group.Workers)
        {
            (int count, string? first) = worker.LoggedProblems();
            if (count > 0)
            {
                report.Warnings.Add(Format($"{worker.Name} logged {count} warnings/errors, first: {first}"));
                Progress.Line($"{worker.Name} output:{Environment.NewLine}{worker.OutputTail(60)}");
            }
        }
    }

    /// <summary>Which worker is the primary of the hot counter, and of how many of the 1,000.</summary>
    private static string DescribePrimaries(WorkerGroup group, SmdSsStatus settled, string prefix)
    {
        var placement = new KeyPlacement(settled);
        string PrimaryOf(string key) => group.WorkerOf(placement.SliceOf(key).Replicas[0]);
        string hot = PrimaryOf(IncrementScenario.Keys(KeyPrefix(prefix, IncrementScenario.HotCounter), 1)[0]);
        IncrementScenario many = IncrementScenario.ManyCounters;
        string spread = string.Join(", ", IncrementScenario.Keys(KeyPrefix(prefix, many), many.CounterCount)
            .GroupBy(PrimaryOf).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => Format($"{g.Key} {g.Count()}")));
        return $"Primaries: the hot counter's is {hot} (the other two processes forward every increment to it); of the 1,000 counters: {spread}";
    }

    private static string KeyPrefix(string prefix, IncrementScenario scenario) =>
        Format($"smdss-bench:incr:{prefix}:{scenario.CounterCount}:");

    private static CpuUsage CpuOf(WorkerGroup group)
    {
        var cpu = new CpuUsage();
        foreach (WorkerProcess worker in group.Workers)
        {
            cpu.Add(worker.Name, worker.Pid);
        }

        return cpu;
    }

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
