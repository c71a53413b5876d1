using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;

namespace SmdSs.Benchmarks;

/// <summary>The Markdown report: the machine and settings of the run, the table, how to read it.</summary>
internal static class MarkdownReport
{
    public static void Write(string path, RunTiming timing, int keyCount, ResultTable table, IEnumerable<string> warnings)
    {
        var text = new StringBuilder();
        text.AppendLine("# SMD-SS benchmark: IDistributedCache, single node vs MemoryDistributedCache").AppendLine();
        foreach (string line in DescribeRun(timing, keyCount))
        {
            text.AppendLine("- " + line);
        }

        text.AppendLine();
        text.Append(table.ToMarkdown()).AppendLine();
        text.AppendLine("ops/s counts calls of all threads together. Latency is per call as the caller sees it,");
        text.AppendLine("time spent waiting for a CPU included (threads can outnumber processors). alloc B/op is");
        text.AppendLine("what the calling thread allocated per call. MemoryDistributedCache keeps and returns the");
        text.AppendLine("caller's array without copying; SMD-SS copies on Set and on Get.");
        foreach (string warning in warnings)
        {
            text.AppendLine().AppendLine("**Warning:** " + warning);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ToString());
    }

    /// <summary>The machine and settings of the run, one fact a line.</summary>
    public static IEnumerable<string> DescribeRun(RunTiming timing, int keyCount) =>
    [
        .. DescribeMachine(timing),
        Format($"Keys: Get reads {keyCount:N0} prefilled keys; Set overwrites another {keyCount:N0} keys in rotation; 1 h absolute expiry"),
        "SMD-SS: one node via AddSmdSs, FsyncPolicy.EverySecond, MaxMemoryBytes 2 GiB, fresh temp data directory",
        "Memory: AddDistributedMemoryCache with SizeLimit 2 GiB",
    ];

    /// <summary>When, on what and how long per scenario: the lines every report starts with.</summary>
    public static IEnumerable<string> DescribeMachine(RunTiming timing) =>
    [
        Format($"Run: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC"),
        Format($"Machine: {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} logical processors, {RuntimeInformation.FrameworkDescription}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC"),
        Format($"Per scenario: {timing.Warmup.TotalSeconds:0.##} s warm-up, {timing.Measure.TotalSeconds:0.##} s measured"),
        .. LoadAverage(),
    ];

    /// <summary>The 1/5/15-minute load average when the run started (Linux): other work on the machine skews the numbers.</summary>
    public static IEnumerable<string> LoadAverage() =>
        LoadAtStart is { } load ? [$"Load average (1/5/15 min) when the run started: {load}"] : [];

    /// <summary>Call first thing: the load the machine had before the benchmark added its own.</summary>
    public static void CaptureLoadAtStart() =>
        LoadAtStart = File.Exists("/proc/loadavg") && File.ReadAllText("/proc/loadavg").Split(' ') is [string one, string five, string fifteen, ..]
            ? $"{one} {five} {fifteen}"
            : null;

    private static string? LoadAtStart { get; set; }

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
