using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using SmdSs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace SmdSs.Tests.Simulation.Disk;

/// <summary>
/// The real flat-file store on a simulated disk that loses what a real one loses (see
/// <see cref="SimulatedDisk"/>), many seeds per build. <c>SMDSS_DISK_SEEDS</c> sets how many
/// (<c>forever</c>: from <c>SMDSS_DISK_FROM</c> on until stopped, failures logged to
/// <c>/tmp/smdss-tests/disk-search.log</c>); <c>SMDSS_DISK_REPLAY=N</c> runs seed N in
/// <see cref="Replay"/> and prints its whole trace.
/// </summary>
/// <remarks>In the cluster tests' group: its seeds take both cores, which the timed cluster tests must not lose.</remarks>
[Collection(ClusterTestGroup.Name)]
public sealed class StorageCrashSimulationTests(ITestOutputHelper output)
{
    private const int Steps = 1_500;

    [Fact]
    public void The_store_keeps_what_its_fsync_policy_promises_across_kills_and_power_losses_for_many_seeds()
    {
        string? given = Environment.GetEnvironmentVariable("SMDSS_DISK_SEEDS");
        if (given == "forever")
        {
            SearchUntilStopped();
        }

        int seeds = int.TryParse(given, CultureInfo.InvariantCulture, out int n) ? n : 300;
        var failures = new ConcurrentDictionary<int, string>();
        var reports = new ConcurrentBag<StorageCrashReport>();
        var clock = Stopwatch.StartNew();
        Parallel.For(1, seeds + 1, seed =>
        {
            StorageCrashReport report = new StorageCrashSimulation(seed).Run(Steps);
            reports.Add(report);
            if (report.Violations.Count > 0)
            {
                failures[seed] = report.Violations[0];
            }
        });

        output.WriteLine(
            $"{seeds} seeds of {Steps} steps in {clock.Elapsed.TotalSeconds:F1} s: " +
            $"{reports.Sum(r => r.Writes):N0} writes, {reports.Sum(r => r.ReadsChecked):N0} reads checked, " +
            $"{reports.Sum(r => r.KillCrashes):N0} kills, {reports.Sum(r => r.PowerLosses):N0} power losses, " +
            $"{reports.Sum(r => r.CrashesInsideAnOperation):N0} of them inside an operation, {reports.Sum(r => r.Splits):N0} splits, " +
            $"{reports.Sum(r => r.Compactions):N0} compactions, {reports.Sum(r => r.Evictions):N0} evictions, " +
            $"{reports.Sum(r => r.BytesLost):N0} bytes and {reports.Sum(r => r.NameChangesLost):N0} renames/creates/deletes lost to power; " +
            $"policies {string.Join(", ", reports.GroupBy(r => r.Policy).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"))}");
        Assert.True(failures.IsEmpty, string.Join(Environment.NewLine, failures.OrderBy(f => f.Key).Take(10).Select(f => $"seed {f.Key}: {f.Value} (replay: SMDSS_DISK_REPLAY={f.Key})")));
    }

    /// <summary>Seeds that found a bug, kept as its regression test.</summary>
    [Theory]
    // A file opened after a kill -9 counted as synced: the bytes the killed process had given
    // the operating system were never fsynced, and a power loss after a graceful stop took them.
    [InlineData(2)]
    // A compaction's rename was not on the disk until the journal committed: with no write after
    // it, a power loss brought back the old file, whose unsynced tail the compaction had made durable.
    [InlineData(7)]
    // A file of another layout (a split cut short by a crash) was adopted at start without its
    // records' operation answers in the load's report: an increment retried after the restart
    // would have been applied again.
    [InlineData(1)]
    // The renewals an adopted file held were only marked for the next maintenance round, and the
    // file deleted at once: a kill -9 within that second moved sliding deadlines back.
    [InlineData(23)]
    // An adopted copy of the version held (a split's, made after a renewal) did not bring its
    // later sliding deadline: the slice map before the split came back with a power loss, and
    // the renewal with it was gone.
    [InlineData(2826)]
    // Under Always, bytes a killed process had written but not synced were served after the
    // restart and could be lost to a later power loss: the files are fsynced when opened.
    [InlineData(426)]
    public void Pinned(int seed)
    {
        StorageCrashReport report = new StorageCrashSimulation(seed).Run(Steps);

        Assert.True(report.Violations.Count == 0, string.Join(Environment.NewLine, report.Violations));
    }

    [Fact]
    public void The_same_seed_gives_the_same_trace()
    {
        StorageCrashReport first = new StorageCrashSimulation(7).Run(Steps);
        StorageCrashReport second = new StorageCrashSimulation(7).Run(Steps);

        Assert.True(first.PowerLosses + first.KillCrashes > 0);
        Assert.Equal(first.TraceHash, second.TraceHash);
        Assert.NotEqual(first.TraceHash, new StorageCrashSimulation(8).Run(Steps).TraceHash);
    }

    [Fact]
    public void A_disk_whose_fsync_does_nothing_is_caught_losing_acknowledged_writes()
    {
        // The checker's own test: with fsync a no-op, power losses must take writes the Always
        // policy acknowledged, and the simulation must say so for some of the seeds.
        int caught = Enumerable.Range(1, 40)
            .Count(seed => new StorageCrashSimulation(seed, lyingDisk: true, policy: FsyncPolicy.Always).Run(Steps).Violations
                .Any(v => v.Contains("older than", StringComparison.Ordinal) || v.Contains("is absent", StringComparison.Ordinal)));

        Assert.True(caught >= 10, $"only {caught} of 40 seeds caught a lying disk");
    }

    private void SearchUntilStopped()
    {
        int from = int.TryParse(Environment.GetEnvironmentVariable("SMDSS_DISK_FROM"), CultureInfo.InvariantCulture, out int f) ? f : 1_001;
        string log = Path.Combine(Path.GetTempPath(), "smdss-tests", "disk-search.log");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        for (int first = from; ; first += 1_000)
        {
            int start = first;
            Parallel.For(start, start + 1_000, seed =>
            {
                if (new StorageCrashSimulation(seed).Run(Steps).Violations is [string violation, ..])
                {
                    lock (log)
                    {
                        File.AppendAllText(log, $"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} seed {seed}: {violation}{Environment.NewLine}");
                    }
                }
            });
            File.AppendAllText(log, $"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} seeds {start}..{start + 999} done{Environment.NewLine}");
            output.WriteLine($"seeds {start}..{start + 999} done");
        }
    }

    [Fact]
    public void Replay()
    {
        string? given = Environment.GetEnvironmentVariable("SMDSS_DISK_REPLAY");
        int seed = int.TryParse(given, CultureInfo.InvariantCulture, out int n) ? n : 1;
        StorageCrashReport report = new StorageCrashSimulation(seed, keepTrace: true).Run(Steps);
        foreach (string line in given is null ? report.Trace.TakeLast(20) : report.Trace)
        {
            output.WriteLine(line);
        }

        output.WriteLine($"trace hash {report.TraceHash:x16} (the same on any machine)");

        Assert.True(report.Violations.Count == 0, string.Join(Environment.NewLine, report.Violations));
    }
}
