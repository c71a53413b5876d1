using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>
/// Placement settles after every change of membership, in virtual time: joins, crashes with a
/// restart within the grace period, crashes for good, a node cut off for a while, the farm split
/// in two for a while, in farms whose maps may hold up to 200 nodes gone for hours; after each,
/// once no commit or catch-up is under way, every running node holds the same maps and sees
/// every running node Up and every stopped one Down, every slice has RF in-sync replicas on
/// running nodes, replicas are spread evenly, and nothing is committed for 30 s more (no churn). A failing seed prints its trace; pin it in <see cref="Pinned"/>.
/// More seeds: <c>SMDSS_PLACEMENT_SEEDS=100000 dotnet test --filter "FullyQualifiedName~PlacementSimulationTests.Placement_settles"</c>.
/// </summary>
// CPU-bound for seconds: kept off the wall-clock cluster tests' time.
[Collection(ClusterTestGroup.Name)]
public sealed class PlacementSimulationTests(ITestOutputHelper output)
{
    private const long SettleBoundMs = PlacementSimulation.GraceMs + 60_000;
    private const long QuietMs = 30_000;

    [Fact]
    public void Placement_settles_after_every_membership_change_for_many_seeds()
    {
        int seeds = int.TryParse(Environment.GetEnvironmentVariable("SMDSS_PLACEMENT_SEEDS"), CultureInfo.InvariantCulture, out int n) ? n : 100;
        var failures = new ConcurrentDictionary<int, string>();
        var staleAcrossTakeover = new ConcurrentDictionary<int, string>();
        var staleWindowsMs = new ConcurrentBag<long>();
        long simulatedMs = 0;
        var clock = Stopwatch.StartNew();
        Parallel.For(1, seeds + 1, (seed, state) =>
        {
            if (Run(seed, out PlacementSimulation sim) is { } failure)
            {
                failures[seed] = failure;
                if (failures.Count >= 5)
                {
                    state.Stop();
                }
            }

            Interlocked.Add(ref simulatedMs, sim.NowMs);
            if (sim.StaleReadsAcrossTakeover.Count > 0)
            {
                staleAcrossTakeover[seed] = sim.StaleReadsAcrossTakeover[0];
            }

            foreach (long window in sim.StaleWindowsMs)
            {
                staleWindowsMs.Add(window);
            }
        });

        // The known gap of reads across a takeover after a partition heals (issue 18): measured, and held
        // under a ceiling (about a seventh of the seeds now; 42 in 100 without the resync after a
        // lapsed read quorum, nearly all without the rule against taking over a primary heard
        // from lately).
        List<long> windows = [.. staleWindowsMs.Order()];
        output.WriteLine($"stale read windows across a takeover in {staleAcrossTakeover.Count} of {seeds} seeds: {windows.Count} windows, "
            + (windows.Count == 0 ? "" : $"median {windows[windows.Count / 2]} ms, longest {windows[^1]} ms"));
        foreach ((int seed, string stale) in staleAcrossTakeover.OrderBy(s => s.Key).Take(5))
        {
            output.WriteLine($"  seed {seed}: {stale}");
        }

        output.WriteLine($"{seeds} seeds, {simulatedMs / 3_600_000.0:0.0} h simulated in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.IsEmpty, string.Join(Environment.NewLine, failures.OrderBy(f => f.Key).Select(f => $"seed {f.Key}: {f.Value} (replay: Pinned({f.Key}))")));
        Assert.True(staleAcrossTakeover.Count <= seeds / 3, $"stale read windows across a takeover in {staleAcrossTakeover.Count} of {seeds} seeds, past the ceiling of a third");
    }

    [Fact]
    public void The_same_seed_gives_the_same_trace()
    {
        Run(7, out PlacementSimulation first);
        Run(7, out PlacementSimulation second);
        Assert.Equal(first.TraceHash, second.TraceHash);
        Assert.True(first.Commits > 100, $"{first.Commits} commits");
    }

    /// <summary>
    /// Seeds that failed once, replayed with their trace. 15, 16, 23, 159, 165: after a node was
    /// cut off and the links healed, each side held the other Down and neither called the other
    /// again (gossip went to reachable peers and friends, and the healed node's friends were dead
    /// or it was the friend itself), so the cluster stayed split for good; a node now gossips
    /// with a node it holds Down every fifth round (<see cref="SmdSs.Membership.GossipTarget"/>).
    /// 150: maps compared at the very moment nodes forget a record gone past the retention, each
    /// on its own clock; a record being forgotten just now no longer counts as a difference.
    /// 69: two joiners confirmed each other's bootstrap maps before reaching the founder and
    /// committed epoch 1, which tied the founder's records and won by node id (the founder's
    /// copies would be wiped); a bootstrap map is now confirmed only by an established one.
    /// </summary>
    [Theory]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(23)]
    [InlineData(159)]
    [InlineData(165)]
    [InlineData(150)]
    [InlineData(69)]
    public void Pinned(int seed)
    {
        string? failure = Run(seed, out PlacementSimulation sim);
        foreach (string line in sim.TraceTail(failure is null ? 20 : 600))
        {
            output.WriteLine(line);
        }

        Assert.True(failure is null, failure);
    }

    private static string? Run(int seed, out PlacementSimulation sim)
    {
        sim = new PlacementSimulation(seed);
        return Scenario(sim);
    }

    // Three nodes form the cluster; then twelve random changes, each left to settle.
    private static string? Scenario(PlacementSimulation sim)
    {
        sim.Bootstrap(staleDown: sim.Random.Next(0, 4) == 0 ? sim.Random.Next(1, 200) : 0);
        sim.RunUntil(sim.Random.Next(0, 3_000));
        sim.Join();
        sim.RunUntil(sim.NowMs + sim.Random.Next(0, 3_000));
        sim.Join();
        if (Settle(sim, "formation") is { } failure)
        {
            return failure;
        }

        for (int step = 0; step < 12; step++)
        {
            string change = Change(sim);
            sim.Phase = $"step {step}: {change}";
            sim.Note(sim.Phase);
            if (Settle(sim, change) is { } stepFailure)
            {
                return $"step {step}: {stepFailure}";
            }
        }

        return null;
    }

    private static string Change(PlacementSimulation sim)
    {
        var running = sim.Running.ToList();
        var choices = new List<string>();
        if (sim.Nodes.Count() < 8)
        {
            choices.Add("join");
        }

        if (running.Count > 3)
        {
            choices.Add("crash for good");
        }

        if (running.Count >= 3)
        {
            choices.Add("crash and restart");
            choices.Add("stop gracefully and restart");
            choices.Add("cut off and heal");
            choices.Add("split in two and heal");
        }

        string change = choices[sim.Random.Next(choices.Count)];
        switch (change)
        {
            case "join":
                sim.Join();
                break;
            case "crash for good":
                sim.Crash(running[sim.Random.Next(running.Count)]);
                break;
            case "stop gracefully and restart":
                var stopping = running[sim.Random.Next(running.Count)];
                sim.StopGracefully(stopping);
                sim.Later(sim.Random.Next(1_000, 30_000), () => sim.Restart(stopping));
                break;
            case "cut off and heal":
                sim.Isolate(running[sim.Random.Next(running.Count)]);
                sim.Later(sim.Random.Next(500, 20_000), sim.Heal);
                break;
            case "split in two and heal":
                sim.Split();
                sim.Later(sim.Random.Next(500, 20_000), sim.Heal);
                break;
            default:
                var victim = running[sim.Random.Next(running.Count)];
                sim.Crash(victim);
                sim.Later(sim.Random.Next(1_000, 30_000), () => sim.Restart(victim));
                break;
        }

        return change;
    }

    private static string? Settle(PlacementSimulation sim, string change)
    {
        long deadline = sim.NowMs + SettleBoundMs;
        while (sim.NowMs < deadline)
        {
            sim.RunUntil(sim.NowMs + 1_000);
            if (sim.StaleReads.Count > 0)
            {
                return sim.StaleReads[0];
            }

            if (sim.Refusals.Count > 0)
            {
                return sim.Refusals[0];
            }

            if (sim.NowMs > sim.ChangesUntilMs + PlacementSimulation.DetectionMs && sim.WorkInFlight == 0 && sim.Unsettled().Count == 0 && sim.NowMs - sim.LastCommitMs > 5_000)
            {
                int commits = sim.Commits;
                sim.Note($"settled after {change}");
                sim.RunUntil(sim.NowMs + QuietMs);
                return sim.StaleReads.Count > 0 ? sim.StaleReads[0]
                    : sim.Refusals.Count > 0 ? sim.Refusals[0]
                    : sim.Commits == commits && sim.Unsettled().Count == 0 ? null
                    : $"after {change}, settled and then changed again ({sim.Commits - commits} commits in {QuietMs / 1000} s): {string.Join("; ", sim.Unsettled().Take(3))}";
            }
        }

        return $"after {change}, not settled in {SettleBoundMs / 1000} s: {string.Join("; ", sim.Unsettled().Take(5))}";
    }
}
