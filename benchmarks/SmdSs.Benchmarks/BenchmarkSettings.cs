using System.Globalization;

namespace SmdSs.Benchmarks;

/// <summary>
/// The command line: which benchmarks to run, how long, and where to write the Markdown reports.
/// The cluster and increments benchmarks also need a running redis-server and a scratch
/// directory; run.sh provides both (--redis, --work-dir).
/// </summary>
internal sealed record BenchmarkSettings(
    RunTiming Timing,
    bool RunSingle,
    bool RunCluster,
    bool RunIncrements,
    string OutputPath,
    string ClusterOutputPath,
    string IncrementsOutputPath,
    string? RedisEndpoint,
    string? WorkDirectory,
    CallStyle ClusterCalls)
{
    public const string Usage = """
        Usage: run.sh [--cluster | --increments | --all] [--quick] [--duration SECONDS] [--calls async|sync] [--output FILE] [--cluster-output FILE] [--increments-output FILE]
          (default)               single node vs MemoryDistributedCache
          --cluster               a 4-node SMD-SS cluster (3 WebFarm processes + this process) vs Redis
          --increments            atomic increments from 3 SMD-SS node processes vs Redis INCR from 3 processes
          --all                   all three
          --quick                 smoke run, 0.5 s per scenario
          --duration SECONDS      measured time per scenario (default 3); warm-up is a third of it, at most 1 s
          --calls async|sync      cluster mode: GetAsync/SetAsync (default) or the synchronous Get/Set
          --output FILE           single-node report (default benchmarks/results/latest.md)
          --cluster-output FILE   cluster report (default benchmarks/results/cluster.md)
          --increments-output FILE increments report (default benchmarks/results/increments.md)
        Passed by run.sh for --cluster / --increments / --all:
          --redis HOST:PORT       the redis-server to measure against
          --work-dir DIR          scratch directory for the node data directories and pid files
        """;

    private const double DefaultSeconds = 3;
    private const double QuickSeconds = 0.5;

    /// <summary>The settings, or null with <paramref name="error"/> set (empty for --help).</summary>
    public static BenchmarkSettings? Parse(IReadOnlyList<string> args, out string? error)
    {
        error = null;
        double? seconds = null;
        bool quick = false;
        bool single = true;
        bool cluster = false;
        bool increments = false;
        string results = Path.Combine(RepositoryRoot(), "benchmarks", "results");
        string output = Path.Combine(results, "latest.md");
        string clusterOutput = Path.Combine(results, "cluster.md");
        string incrementsOutput = Path.Combine(results, "increments.md");
        string? redis = null;
        string? workDirectory = null;
        CallStyle clusterCalls = CallStyle.Async;
        for (int i = 0; i < args.Count; i++)
        {
            string? value = i + 1 < args.Count ? args[i + 1] : null;
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--cluster":
                    (single, cluster) = (false, true);
                    break;
                case "--increments":
                    (single, increments) = (false, true);
                    break;
                case "--all":
                    (single, cluster, increments) = (true, true, true);
                    break;
                case "--duration" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0:
                    seconds = s;
                    i++;
                    break;
                case "--output" when value is not null:
                    output = Path.GetFullPath(value);
                    i++;
                    break;
                case "--cluster-output" when value is not null:
                    clusterOutput = Path.GetFullPath(value);
                    i++;
                    break;
                case "--increments-output" when value is not null:
                    incrementsOutput = Path.GetFullPath(value);
                    i++;
                    break;
                case "--redis" when value is not null:
                    redis = value;
                    i++;
                    break;
                case "--calls" when Enum.TryParse(value, ignoreCase: true, out CallStyle style) && Enum.IsDefined(style) && !char.IsDigit(value[0]):
                    clusterCalls = style;
                    i++;
                    break;
                case "--work-dir" when value is not null:
                    workDirectory = Path.GetFullPath(value);
                    i++;
                    break;
                case "--help" or "-h":
                    error = string.Empty;
                    return null;
                case "--duration":
                    error = "--duration needs a positive number of seconds.";
                    return null;
                case "--calls":
                    error = "--calls needs async or sync.";
                    return null;
                case "--output" or "--cluster-output" or "--increments-output" or "--redis" or "--work-dir":
                    error = $"{args[i]} needs a value.";
                    return null;
                default:
                    error = $"Unknown argument '{args[i]}'.";
                    return null;
            }
        }

        if ((cluster || increments) && redis is null)
        {
            error = "The cluster and increments benchmarks need a redis-server: run them through benchmarks/run.sh, or pass --redis HOST:PORT.";
            return null;
        }

        // An explicit --duration wins over --quick.
        var measure = TimeSpan.FromSeconds(seconds ?? (quick ? QuickSeconds : DefaultSeconds));
        var warmup = TimeSpan.FromSeconds(Math.Clamp(measure.TotalSeconds / 3, 0.1, 1));
        return new BenchmarkSettings(new RunTiming(warmup, measure), single, cluster, increments, output, clusterOutput, incrementsOutput, redis, workDirectory, clusterCalls);
    }

    /// <summary>The directory holding SmdSs.sln (the build output lies under benchmarks/SmdSs.Benchmarks/bin/...).</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SmdSs.sln")))
            {
                return dir.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
