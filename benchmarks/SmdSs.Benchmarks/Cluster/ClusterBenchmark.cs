using System.Globalization;
using SmdSs.Benchmarks.Subjects;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// The --cluster mode: RedisCache against a local redis-server, then a 4-node SMD-SS cluster
/// (three WebFarm processes and a node embedded here) through the embedded node's
/// IDistributedCache: Get of keys it holds, Get of keys it does not hold, Set. 1 KiB values,
/// 16 concurrent callers (LoadRunner), async calls unless --calls sync.
/// </summary>
internal static class ClusterBenchmark
{
    private const int KeyCount = 10_000;
    private const int ValueBytes = 1024;
    private const int Threads = 16;
    private const int PrefillParallelism = 16;
    private static readonly Scenario Get = new(CacheOperation.Get, ValueBytes, Threads);
    private static readonly Scenario Set = new(CacheOperation.Set, ValueBytes, Threads);

    public static async Task RunAsync(BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var report = new ClusterReport(settings.Timing, settings.ClusterCalls);
        string methods = settings.ClusterCalls == CallStyle.Async ? "awaited IDistributedCache.GetAsync / SetAsync" : "synchronous IDistributedCache.Get / Set";
        report.Facts.Add(Format($"Calls: {methods}, {Threads} concurrent callers, {ValueBytes / 1024} KiB values, 1 h absolute expiry; Set overwrites {KeyCount:N0} keys in rotation"));
        report.Facts.Add(ReadyThreadPool());
        report.Facts.Add(FrameCost.Measure(ValueBytes));
        var setKeys = new KeySet("set", KeyCount);

        // Redis first, with no WebFarm process on the machine yet.
        await MeasureRedisAsync(settings, report, setKeys, cancellationToken);

        string workDirectory = settings.WorkDirectory ?? Path.Combine(Path.GetTempPath(), "smdss-cluster-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            Progress.Line($"SMD-SS cluster: starting {FarmProcesses.Count} WebFarm processes and the embedded node, sealed (a cluster secret)");
            await using (ClusterSubject cluster = await ClusterSubject.StartAsync(workDirectory, "sealed", NewClusterSecret(), cancellationToken))
            {
                await MeasureClusterAsync(cluster, settings, report, setKeys, cancellationToken);
            }

            Progress.Line($"SMD-SS cluster in clear: starting {FarmProcesses.Count} WebFarm processes and the embedded node with no cluster secret");
            await using (ClusterSubject clear = await ClusterSubject.StartAsync(workDirectory, "clear", null, cancellationToken))
            {
                await MeasureClearAsync(clear, settings, report, setKeys, cancellationToken);
            }
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
        report.Write(settings.ClusterOutputPath);
        Console.WriteLine();
        Console.WriteLine("Written to " + settings.ClusterOutputPath);
    }

    private static async Task MeasureRedisAsync(BenchmarkSettings settings, ClusterReport report, KeySet setKeys, CancellationToken cancellationToken)
    {
        var redis = new RedisSubject(settings.RedisEndpoint!);
        await using StartedCache started = await redis.StartAsync(cancellationToken);
        var cpu = new CpuUsage();
        if (redis.ServerProcessId is { } pid)
        {
            cpu.Add("redis-server", pid);
        }

        var getKeys = new KeySet("get", KeyCount);
        Progress.Line($"Redis {redis.ServerVersion} at {settings.RedisEndpoint}: prefilling {KeyCount:N0} keys");
        await LoadRunner.PrefillAsync(started.Cache, getKeys, ValueBytes, PrefillParallelism, cancellationToken);
        var meter = new ScenarioMeter(new LoadRunner(started.Cache, settings.Timing, settings.ClusterCalls), report, cpu);
        meter.Run(ClusterReport.Redis, Get, getKeys, cancellationToken);
        meter.Run(ClusterReport.Redis, Set, setKeys, cancellationToken);
        report.Facts.Add(Format($"Redis: redis-server {redis.ServerVersion} on {settings.RedisEndpoint} (loopback, --save '' --appendonly no), RedisCache via AddStackExchangeRedisCache; measured first, before any WebFarm process started; Get reads {KeyCount:N0} prefilled keys"));
    }

    private static async Task MeasureClusterAsync(ClusterSubject cluster, BenchmarkSettings settings, ClusterReport report, KeySet setKeys, CancellationToken cancellationToken)
    {
        SmdSsStatus settled = cluster.Status();
        var placement = new KeyPlacement(settled);
        (KeySet local, KeySet remote) = placement.SplitByHolder("get", KeyCount);
        (KeySet setHere, KeySet setElsewhere) = placement.SplitByPrimary("set-split", KeyCount);
        int mixedHere = setKeys.Keys.Count(placement.IsPrimaryHere);
        report.Facts.Add(Format($"SMD-SS: {FarmProcesses.Count} samples/WebFarm processes (Release, own data directories, FsyncPolicy EverySecond from appsettings) + this process's node via AddSmdSs (Listen 127.0.0.1:0, Friends = n0, FsyncPolicy.EverySecond, ReplicationFactor {ClusterSubject.ReplicationFactor}); settled {cluster.SettleTime.TotalSeconds:0.0} s after the first process started"));
        report.Facts.Add(Format($"Placement: {placement.SliceCount} slices; the embedded node holds {placement.SlicesHeld} in sync ({placement.ShareHeld:P0} of the hash space) and is primary of {placement.SlicesPrimary}; Get reads {KeyCount:N0} prefilled keys held locally / {KeyCount:N0} held elsewhere; {mixedHere:N0} of the {KeyCount:N0} Set keys have the embedded node as primary (the rest are forwarded)"));
        WarnIfUneven(settled, report);

        Progress.Line($"SMD-SS cluster settled in {cluster.SettleTime.TotalSeconds:0.0} s; prefilling {KeyCount:N0} keys held locally and {KeyCount:N0} held elsewhere");
        await LoadRunner.PrefillAsync(cluster.Cache, local, ValueBytes, PrefillParallelism, cancellationToken);
        await LoadRunner.PrefillAsync(cluster.Cache, remote, ValueBytes, PrefillParallelism, cancellationToken);

        using var reads = new ReadSourceCounter(cluster.Node.NodeId!);
        report.Facts.Add(await ReadPlacementCheck.VerifyAsync(cluster.Cache, reads, local, remote, cancellationToken));

        var cpu = new CpuUsage();
        foreach (FarmProcess process in cluster.Farm.Processes)
        {
            cpu.Add(process.Name, process.Pid);
        }

        var meter = new ScenarioMeter(new LoadRunner(cluster.Cache, settings.Timing, settings.ClusterCalls), report, cpu, reads);
        meter.Run(ClusterReport.LocalGet, Get, local, cancellationToken);
        meter.Run(ClusterReport.RemoteGet, Get, remote, cancellationToken);
        meter.Run(ClusterReport.ClusterSet, Set, setKeys, cancellationToken);
        meter.Run(ClusterReport.SetPrimaryHere, Set, setHere, cancellationToken);
        meter.Run(ClusterReport.SetPrimaryElsewhere, Set, setElsewhere, cancellationToken);

        CheckClusterUnchanged(cluster, settled, report);
    }

    /// <summary>The remote Get and the Set again, on a cluster with no secret: what sealing costs is the difference.</summary>
    private static async Task MeasureClearAsync(ClusterSubject cluster, BenchmarkSettings settings, ClusterReport report, KeySet setKeys, CancellationToken cancellationToken)
    {
        var placement = new KeyPlacement(cluster.Status());
        (_, KeySet remote) = placement.SplitByHolder("get", KeyCount);
        await LoadRunner.PrefillAsync(cluster.Cache, remote, ValueBytes, PrefillParallelism, cancellationToken);
        var cpu = new CpuUsage();
        foreach (FarmProcess process in cluster.Farm.Processes)
        {
            cpu.Add(process.Name, process.Pid);
        }

        var meter = new ScenarioMeter(new LoadRunner(cluster.Cache, settings.Timing, settings.ClusterCalls), report, cpu);
        meter.Run(ClusterReport.RemoteGetClear, Get, remote, cancellationToken);
        meter.Run(ClusterReport.ClusterSetClear, Set, setKeys, cancellationToken);
    }

    private static string NewClusterSecret() => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    private static void WarnIfUneven(SmdSsStatus settled, ClusterReport report)
    {
        int nodes = FarmProcesses.Count + 1;
        if (!ClusterSettle.IsBalanced(settled, nodes, ClusterSubject.ReplicationFactor))
        {
            report.Warnings.Add(Format(
                $"The settled placement is uneven: in-sync slices per node {ClusterSettle.HeldPerNode(settled)} (embedded node {settled.NodeId[..4]}); {settled.Slices.Count} slices × RF {ClusterSubject.ReplicationFactor} over {nodes} nodes is {settled.Slices.Count * ClusterSubject.ReplicationFactor / (double)nodes:0.#} each. The map stayed so for 5 s before measuring."));
        }
    }

    /// <summary>Warns when the maps moved while measuring, or a WebFarm process exited or logged warnings or errors.</summary>
    private static void CheckClusterUnchanged(ClusterSubject cluster, SmdSsStatus settled, ClusterReport report)
    {
        SmdSsStatus now = cluster.Status();
        if (now.SliceMapDigest != settled.SliceMapDigest || now.NodeMapDigest != settled.NodeMapDigest)
        {
            report.Warnings.Add("The node map or slice map changed while measuring: the local/remote split may not hold for the whole run. Now: in-sync slices per node "
                + ClusterSettle.HeldPerNode(now));
        }

        foreach (FarmProcess process in cluster.Farm.Processes)
        {
            if (process.HasExited)
            {
                report.Warnings.Add($"{process.Name} exited during the run. Last output:{Environment.NewLine}{process.OutputTail(40)}");
                continue;
            }

            List<string> problems = [.. process.OutputTail(400).Split(Environment.NewLine).Where(l => l.StartsWith("warn:", StringComparison.Ordinal) || l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal))];
            if (problems.Count > 0)
            {
                report.Warnings.Add(Format($"{process.Name} logged {problems.Count} warnings/errors, first: {problems[0]}"));
                Progress.Line($"{process.Name} output:{Environment.NewLine}{process.OutputTail(60)}");
            }
        }
    }

    /// <summary>
    /// Async callers continue on the thread pool, which starts with one worker per CPU and then
    /// grows by about one thread a second when work queues up; on a small machine the first
    /// calls of a scenario waited about a second for it (seen with RedisCache). Having a thread
    /// per caller ready is what StackExchange.Redis recommends for servers; it applies to both
    /// subjects here (the WebFarm processes keep the default).
    /// </summary>
    private static string ReadyThreadPool()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        int wanted = Math.Max(workers, Threads + Environment.ProcessorCount);
        ThreadPool.SetMinThreads(wanted, io);
        return Format($"Thread pool of this process: at least {wanted} worker threads ready (ThreadPool.SetMinThreads; default {workers})");
    }

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
