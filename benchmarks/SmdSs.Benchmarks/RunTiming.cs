namespace SmdSs.Benchmarks;

/// <summary>How long each scenario warms up and is measured.</summary>
internal sealed record RunTiming(TimeSpan Warmup, TimeSpan Measure);
