using System.Globalization;
using System.Text;

namespace SmdSs.Benchmarks.Increments;

/// <summary>
/// The increments benchmark's results: the facts of the run, the table (Redis as the baseline)
/// with the sum check of every row, what explains the numbers, and warnings; printed and written
/// as Markdown.
/// </summary>
internal sealed class IncrementReport(RunTiming timing)
{
    public const string SmdSs = "SMD-SS";
    public const string Redis = "Redis";

    public List<string> Facts { get; } = [];

    public List<string> Notes { get; } = [];

    public List<IncrementResult> Results { get; } = [];

    public List<string> Warnings { get; } = [];

    /// <summary>True when every counter sum equals the acknowledged increments.</summary>
    public bool AllSumsMatch => Results.All(r => r.SumMatches);

    public void Print()
    {
        Console.WriteLine();
        Console.Write(Text(markdown: false));
    }

    public void Write(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "# SMD-SS benchmark: atomic increments, 3 node processes vs Redis INCR" + Environment.NewLine + Environment.NewLine + Text(markdown: true));
    }

    private string Text(bool markdown)
    {
        string bullet = markdown ? "- " : "";
        var text = new StringBuilder();
        foreach (string line in MarkdownReport.DescribeMachine(timing).Concat(Facts))
        {
            text.AppendLine(bullet + line);
        }

        text.AppendLine().Append(Table());
        text.AppendLine().AppendLine(Format($"{bullet}Counters sum == acknowledged increments: {(AllSumsMatch ? "yes" : "NO")} (every row; warm-up included; counters deleted before each scenario)"));
        text.AppendLine().AppendLine(markdown ? "Context:" : "").AppendLine();
        foreach (string line in Notes)
        {
            text.AppendLine(bullet + line);
        }

        text.AppendLine();
        text.AppendLine("increments/s counts the acknowledged increments of all callers of all three processes completed in the");
        text.AppendLine("measured window; latency is per call as the caller sees it, time waiting for a CPU included. SMD-SS: an");
        text.AppendLine("increment goes to the key's primary (in the calling process for about a third of the calls, one round trip");
        text.AppendLine("away otherwise), which applies it under the key's lock and returns once both other replicas have it.");
        text.AppendLine("Redis: INCR on the single redis-server, one ConnectionMultiplexer per process.");
        foreach (string warning in Warnings)
        {
            text.AppendLine().AppendLine((markdown ? "**Warning:** " : "Warning: ") + warning);
        }

        return text.ToString();
    }

    private string Table()
    {
        var text = new StringBuilder()
            .AppendLine("| Scenario | Subject | increments/s | p50 µs | p99 µs | vs Redis | acknowledged | counters sum | sum == acked | errors |")
            .AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|---:|");
        foreach (IncrementResult r in Results.OrderBy(r => r.Scenario.CounterCount).ThenBy(r => r.Subject == Redis ? 1 : 0))
        {
            IncrementResult? redis = Results.FirstOrDefault(b => b.Subject == Redis && b.Scenario == r.Scenario);
            string ratio = r.Subject == Redis ? "baseline"
                : redis is null || redis.IncrementsPerSecond == 0 ? "n/a"
                : Format($"{r.IncrementsPerSecond / redis.IncrementsPerSecond:0.00}x");
            text.AppendLine(Format($"| {r.Scenario.Name} | {r.Subject} | {r.IncrementsPerSecond:N0} | {Micros(r.P50Microseconds)} | {Micros(r.P99Microseconds)} | {ratio} | {r.Acknowledged:N0} | {r.CountersSum:N0} | {(r.SumMatches ? "yes" : "NO")} | {r.Errors:N0} |"));
        }

        return text.ToString();
    }

    private static string Micros(double value) => double.IsNaN(value) ? "n/a"
        : value < 100 ? Format($"{value:0.0}")
        : Format($"{value:N0}");

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
