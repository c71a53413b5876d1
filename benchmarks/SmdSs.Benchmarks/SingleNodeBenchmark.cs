using SmdSs.Benchmarks.Subjects;

namespace SmdSs.Benchmarks;

/// <summary>The default mode: one SMD-SS node against MemoryDistributedCache, in this process.</summary>
internal static class SingleNodeBenchmark
{
    private const int KeyCount = 10_000;
    private static readonly int[] ValueSizes = [1024, 64 * 1024];
    private static readonly int[] ThreadCounts = [1, 16];
    private static readonly CacheOperation[] Operations = [CacheOperation.Get, CacheOperation.Set];

    public static async Task RunAsync(BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var getKeys = new KeySet("get", KeyCount);
        var setKeys = new KeySet("set", KeyCount);
        var results = new List<ScenarioResult>();
        foreach (int valueBytes in ValueSizes)
        {
            foreach (ICacheSubject subject in CacheSubjects.All)
            {
                await using StartedCache started = await subject.StartAsync(cancellationToken);
                Progress.Line($"{subject.Name}: prefilling {KeyCount:N0} keys of {valueBytes:N0} bytes");
                LoadRunner.Prefill(started.Cache, getKeys, valueBytes);
                var runner = new LoadRunner(started.Cache, settings.Timing);
                foreach (CacheOperation operation in Operations)
                {
                    foreach (int threads in ThreadCounts)
                    {
                        var scenario = new Scenario(operation, valueBytes, threads);
                        ScenarioResult result = runner.Run(subject.Name, scenario, operation == CacheOperation.Get ? getKeys : setKeys, cancellationToken);
                        results.Add(result);
                        Progress.Line($"  {subject.Name,-8} {scenario,-16} {result.OperationsPerSecond,12:N0} ops/s  p50 {result.P50Microseconds:0.00} µs  p99 {result.P99Microseconds:0.00} µs");
                    }
                }
            }
        }

        List<string> warnings = [.. results.Where(r => r.Misses > 0).Select(r => $"{r.Subject} {r.Scenario}: {r.Misses:N0} Gets missed; its numbers are not comparable.")];
        var table = new ResultTable(results, [.. CacheSubjects.All.Select(s => s.Name)], CacheSubjects.Baseline.Name);
        Console.WriteLine();
        foreach (string line in MarkdownReport.DescribeRun(settings.Timing, KeyCount))
        {
            Console.WriteLine(line);
        }

        Console.WriteLine();
        Console.Write(table.ToText());
        foreach (string warning in warnings)
        {
            Console.WriteLine("Warning: " + warning);
        }

        MarkdownReport.Write(settings.OutputPath, settings.Timing, KeyCount, table, warnings);
        Console.WriteLine();
        Console.WriteLine("Written to " + settings.OutputPath);
    }
}
