using System.Globalization;

namespace SmdSs.Benchmarks;

/// <summary>The command line: how long to run and where to write the Markdown report.</summary>
internal sealed record BenchmarkSettings(RunTiming Timing, string OutputPath)
{
    public const string Usage = """
        Usage: run.sh [--quick] [--duration SECONDS] [--output FILE]
          --quick             smoke run, 0.5 s per scenario
          --duration SECONDS  measured time per scenario (default 3); warm-up is a third of it, at most 1 s
          --output FILE       Markdown report (default benchmarks/results/latest.md)
        """;

    private const double DefaultSeconds = 3;
    private const double QuickSeconds = 0.5;

    /// <summary>The settings, or null with <paramref name="error"/> set (empty for --help).</summary>
    public static BenchmarkSettings? Parse(IReadOnlyList<string> args, out string? error)
    {
        error = null;
        double? seconds = null;
        bool quick = false;
        string output = Path.Combine(RepositoryRoot(), "benchmarks", "results", "latest.md");
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--duration" when i + 1 < args.Count
                    && double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0:
                    seconds = s;
                    i++;
                    break;
                case "--output" when i + 1 < args.Count:
                    output = Path.GetFullPath(args[++i]);
                    break;
                case "--help" or "-h":
                    error = string.Empty;
                    return null;
                case "--duration":
                    error = "--duration needs a positive number of seconds.";
                    return null;
                case "--output":
                    error = "--output needs a file path.";
                    return null;
                default:
                    error = $"Unknown argument '{args[i]}'.";
                    return null;
            }
        }

        // An explicit --duration wins over --quick.
        var measure = TimeSpan.FromSeconds(seconds ?? (quick ? QuickSeconds : DefaultSeconds));
        var warmup = TimeSpan.FromSeconds(Math.Clamp(measure.TotalSeconds / 3, 0.1, 1));
        return new BenchmarkSettings(new RunTiming(warmup, measure), output);
    }

    // The build output lies under benchmarks/SmdSs.Benchmarks/bin/...; the root holds SmdSs.sln.
    private static string RepositoryRoot()
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
