using System.Globalization;
using SmdSs.Benchmarks;
using SmdSs.Benchmarks.Subjects;

const int KeyCount = 10_000;
int[] valueSizes = [1024, 64 * 1024];
int[] threadCounts = [1, 16];
CacheOperation[] operations = [CacheOperation.Get, CacheOperation.Set];

if (BenchmarkSettings.Parse(args, out string? error) is not { } settings)
{
    if (!string.IsNullOrEmpty(error))
    {
        Console.Error.WriteLine(error);
    }

    Console.Error.WriteLine(BenchmarkSettings.Usage);
    return string.IsNullOrEmpty(error) ? 0 : 2;
}

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Stop after the current scenario so the SMD-SS data directory is still deleted.
    e.Cancel = true;
    cancellation.Cancel();
};

var getKeys = new KeySet("get", KeyCount);
var setKeys = new KeySet("set", KeyCount);
var results = new List<ScenarioResult>();
try
{
    foreach (int valueBytes in valueSizes)
    {
        foreach (ICacheSubject subject in CacheSubjects.All)
        {
            await using StartedCache started = await subject.StartAsync(cancellation.Token);
            Progress($"{subject.Name}: prefilling {KeyCount:N0} keys of {valueBytes:N0} bytes");
            LoadRunner.Prefill(started.Cache, getKeys, valueBytes);
            var runner = new LoadRunner(started.Cache, settings.Timing);
            foreach (CacheOperation operation in operations)
            {
                foreach (int threads in threadCounts)
                {
                    var scenario = new Scenario(operation, valueBytes, threads);
                    ScenarioResult result = runner.Run(subject.Name, scenario, operation == CacheOperation.Get ? getKeys : setKeys, cancellation.Token);
                    results.Add(result);
                    Progress($"  {subject.Name,-8} {scenario,-16} {result.OperationsPerSecond,12:N0} ops/s  p50 {result.P50Microseconds:0.00} µs  p99 {result.P99Microseconds:0.00} µs");
                }
            }
        }
    }
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("Cancelled.");
    return 130;
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
return 0;

static void Progress(FormattableString line) => Console.Error.WriteLine(line.ToString(CultureInfo.InvariantCulture));
