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
        Format($"Run: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC"),
        Format($"Machine: {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} logical processors, {RuntimeInformation.FrameworkDescription}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC"),
        Format($"Per scenario: {timing.Warmup.TotalSeconds:0.##} s warm-up, {timing.Measure.TotalSeconds:0.##} s measured"),
        Format($"Keys: Get reads {keyCount:N0} prefilled keys; Set overwrites another {keyCount:N0} keys in rotation; 1 h absolute expiry"),
        "SMD-SS: one node via AddSmdSs, FsyncPolicy.EverySecond, MaxMemoryBytes 2 GiB, fresh temp data directory",
        "Memory: AddDistributedMemoryCache with SizeLimit 2 GiB",
    ];

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
