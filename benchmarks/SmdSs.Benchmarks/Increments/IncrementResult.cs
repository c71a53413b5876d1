using System.Diagnostics;

namespace SmdSs.Benchmarks.Increments;

/// <summary>One subject in one scenario: the workers' tallies summed, and the counters as read back.</summary>
internal sealed record IncrementResult(IncrementScenario Scenario, string Subject, IReadOnlyList<WorkerTally> Tallies, TimeSpan Measure, long CountersSum)
{
    public long Acknowledged => Tallies.Sum(t => t.Acknowledged);

    public long Errors => Tallies.Sum(t => t.Errors);

    /// <summary>Measured increments of all workers over the measured span (the workers' windows coincide).</summary>
    public double IncrementsPerSecond => Tallies.Sum(t => t.Measured) / Measure.TotalSeconds;

    public bool SumMatches => CountersSum == Acknowledged;

    public double P50Microseconds => Percentile(50);

    public double P99Microseconds => Percentile(99);

    private double Percentile(double percentile)
    {
        var all = new LatencyHistogram();
        foreach (WorkerTally tally in Tallies)
        {
            all.Add(tally.Latency);
        }

        return all.ValueAtPercentile(percentile) / (Stopwatch.Frequency / 1_000_000.0);
    }
}
