using System.Diagnostics;
using System.Globalization;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// Runs one scenario with the LoadRunner and records it in the report, with what explains the
/// number: the CPUs each process kept busy and, for SMD-SS Gets, where the reads were answered.
/// </summary>
internal sealed class ScenarioMeter(LoadRunner runner, ClusterReport report, CpuUsage cpu, ReadSourceCounter? reads = null)
{
    public ScenarioResult Run(string subject, Scenario scenario, KeySet keys, CancellationToken cancellationToken)
    {
        ReadSources readsBefore = reads?.Snapshot() ?? default;
        Dictionary<string, TimeSpan> cpuBefore = cpu.Snapshot();
        long started = Stopwatch.GetTimestamp();
        ScenarioResult result = runner.Run(subject, scenario, keys, cancellationToken);
        string label = subject + " " + scenario.Operation;
        report.Notes.Add($"CPUs busy during {label} (warm-up included): {cpu.Describe(cpuBefore, Stopwatch.GetElapsedTime(started))}");
        if (reads is { Available: true } && scenario.Operation == CacheOperation.Get)
        {
            RecordReadSources(label, reads.Snapshot() - readsBefore, expectLocal: subject == ClusterReport.LocalGet);
        }

        report.Results.Add(result);
        Progress.Line($"  {subject,-26} {scenario,-16} {result.OperationsPerSecond,12:N0} ops/s  p50 {result.P50Microseconds:0.00} µs  p99 {result.P99Microseconds:0.00} µs");
        return result;
    }

    private void RecordReadSources(string label, ReadSources served, bool expectLocal)
    {
        report.Notes.Add(Format($"{label}: {served.Local:N0} reads answered locally, {served.Forwarded:N0} forwarded (warm-up included)"));
        long misplaced = expectLocal ? served.Forwarded : served.Local;
        if (misplaced > 0)
        {
            report.Warnings.Add(Format($"{label}: {misplaced:N0} of {served.Total:N0} reads were not answered where the placement says (a read lease lapsed, or the map changed)."));
        }
    }

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
