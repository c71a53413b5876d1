using System.Globalization;

namespace SmdSs.Benchmarks.Increments;

/// <summary>
/// What one worker process counted in one scenario: increments acknowledged in all (warm-up
/// included), those completed inside the measured window, failed calls, and the latencies of
/// the measured ones. Travels to the harness as one tab-separated DONE line.
/// </summary>
internal sealed record WorkerTally(long Acknowledged, long Measured, long Errors, string? FirstError, LatencyHistogram Latency)
{
    private const string Token = "DONE";

    public string ToLine() => string.Join('\t',
        Token,
        Acknowledged.ToString(CultureInfo.InvariantCulture),
        Measured.ToString(CultureInfo.InvariantCulture),
        Errors.ToString(CultureInfo.InvariantCulture),
        Latency.ToSparseText(),
        OneLine(FirstError ?? ""));

    /// <exception cref="FormatException">Not a DONE line.</exception>
    public static WorkerTally Parse(string line)
    {
        string[] fields = line.Split('\t');
        if (fields.Length != 6 || fields[0] != Token)
        {
            throw new FormatException("Not a DONE line: " + line);
        }

        var latency = new LatencyHistogram();
        latency.AddSparseText(fields[4]);
        return new WorkerTally(
            long.Parse(fields[1], CultureInfo.InvariantCulture),
            long.Parse(fields[2], CultureInfo.InvariantCulture),
            long.Parse(fields[3], CultureInfo.InvariantCulture),
            fields[5].Length == 0 ? null : fields[5],
            latency);
    }

    public static string OneLine(string text) => text.ReplaceLineEndings(" ").Replace('\t', ' ');
}
