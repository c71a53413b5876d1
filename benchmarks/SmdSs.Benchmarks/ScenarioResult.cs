namespace SmdSs.Benchmarks;

/// <summary>What one subject did in one scenario. Latencies are in microseconds.</summary>
internal sealed record ScenarioResult(
    string Subject,
    Scenario Scenario,
    long Operations,
    TimeSpan Elapsed,
    double P50Microseconds,
    double P99Microseconds,
    double AllocatedBytesPerOperation,
    long Misses)
{
    public double OperationsPerSecond => Operations / Elapsed.TotalSeconds;
}
