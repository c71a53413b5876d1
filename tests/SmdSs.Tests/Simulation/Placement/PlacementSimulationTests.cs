using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>
/// Placement settles after every change of membership, in virtual time: joins, crashes with a
/// restart within the grace period, crashes for good, power losses, a node cut off for a while, the
/// link between two nodes cut for a while, the farm split in two for a while, decommissions, data growing (slices split), in farms whose maps may hold up to 200 nodes gone for hours; after each,
/// once no commit or catch-up is under way, every running node holds the same maps and sees
/// every running node Up and every stopped one Down, every slice has RF in-sync replicas on
/// running nodes, replicas are spread evenly, and nothing is committed for 15 s more (no churn). A failing seed prints its trace; pin it in a theory of the current scope
/// (earlier scopes keep theirs: <see cref="Pinned_in_the_first_scope"/>, <see cref="Pinned_before_splits"/>, <see cref="Pinned_before_link_cuts"/>).
/// More seeds: <c>SMDSS_PLACEMENT_SEEDS=100000 dotnet test --filter "FullyQualifiedName~PlacementSimulationTests.Placement_settles"</c>.
/// </summary>
// CPU-bound for seconds: kept off the wall-clock cluster tests' time.
[Collection(ClusterTestGroup.Name)]
public sealed class PlacementSimulationTests(ITestOutputHelper output)
{
    private const long SettleBoundMs = PlacementSimulation.GraceMs + 60_000;
    private const long QuietMs = 15_000;

    [Fact]
    public void Placement_settles_after_every_membership_change_for_many_seeds()
    {
        string? given = Environment.GetEnvironmentVariable("SMDSS_PLACEMENT_SEEDS");
        if (given == "forever")
        {
            SearchUntilStopped();
        }

        int seeds = int.TryParse(given, CultureInfo.InvariantCulture, out int n) ? n : 1_000;
        var failures = new ConcurrentDictionary<int, string>();
        var staleAcrossTakeover = new ConcurrentDictionary<int, string>();
        var staleWindowsMs = new ConcurrentBag<long>();
        long simulatedMs = 0;
        long deltas = 0, fulls = 0, repaired = 0, fsyncAlways = 0, correlatedPowerLosses = 0;
        long acknowledged = 0, inDoubt = 0, reads = 0, staleDataReads = 0, notLinearizable = 0, undecided = 0, checkerTicks = 0, increments = 0, incrementsInDoubt = 0, splits = 0;
        long getOrAdds = 0, added = 0, factories = 0, overlapping = 0, retriedOnBroken = 0, handOversWaited = 0;
        long slidingSets = 0, slidingReads = 0, slidingFound = 0, slidingExpiries = 0;
        var expiredEarlyInKnownGaps = new ConcurrentDictionary<string, int>();
        var firstNotLinearizable = new ConcurrentDictionary<int, string>();
        var lostAcrossTakeover = new ConcurrentDictionary<int, string>();
        var clock = Stopwatch.StartNew();
        Parallel.For(1, seeds + 1, (seed, state) =>
        {
            if (Run(seed, out PlacementSimulation sim, BulkSteps, detailed: false) is { } failure)
            {
                failures[seed] = failure;
                if (failures.Count >= 5)
                {
                    state.Stop();
                }
            }

            Interlocked.Add(ref simulatedMs, sim.NowMs);
            Interlocked.Add(ref splits, sim.Splits);
            Interlocked.Add(ref deltas, sim.DeltaCatchUps);
            Interlocked.Add(ref fulls, sim.FullCatchUps);
            Interlocked.Add(ref repaired, sim.KeysRepaired);
            Interlocked.Add(ref fsyncAlways, sim.FsyncAlways ? 1 : 0);
            Interlocked.Add(ref correlatedPowerLosses, sim.CorrelatedPowerLosses);
            Interlocked.Add(ref acknowledged, sim.Data.Acknowledged);
            Interlocked.Add(ref inDoubt, sim.Data.InDoubt);
            Interlocked.Add(ref reads, sim.Data.Reads);
            Interlocked.Add(ref increments, sim.Data.IncrementsAcknowledged);
            Interlocked.Add(ref incrementsInDoubt, sim.Data.IncrementsInDoubt);
            Interlocked.Add(ref staleDataReads, sim.Data.StaleReadsAcrossTakeover);
            Interlocked.Add(ref getOrAdds, sim.Data.GetOrAdds);
            Interlocked.Add(ref retriedOnBroken, sim.RetriedOnBrokenConnection);
            Interlocked.Add(ref handOversWaited, sim.HandOversThatWaited);
            Interlocked.Add(ref added, sim.Data.GetOrAddsThatAdded);
            Interlocked.Add(ref factories, sim.Data.Factories);
            Interlocked.Add(ref overlapping, sim.Data.FactoriesOverlapping);
            Interlocked.Add(ref slidingSets, sim.Sliding.Sets);
            Interlocked.Add(ref slidingReads, sim.Sliding.Reads);
            Interlocked.Add(ref slidingFound, sim.Sliding.Found);
            Interlocked.Add(ref slidingExpiries, sim.SlidingExpiries);
            foreach ((string gap, int count) in sim.Sliding.ExpiredEarlyInKnownGaps)
            {
                expiredEarlyInKnownGaps.AddOrUpdate(gap, count, (_, sum) => sum + count);
            }
            if (sim.Data.LostAcrossStaleTakeover.Count > 0)
            {
                lostAcrossTakeover[seed] = sim.Data.LostAcrossStaleTakeover[0];
            }

            long checkStarted = Stopwatch.GetTimestamp();
            (int bad, int inconclusive, string? explanation) = sim.Data.CheckLinearizable();
            Interlocked.Add(ref checkerTicks, Stopwatch.GetTimestamp() - checkStarted);
            Interlocked.Add(ref notLinearizable, bad);
            Interlocked.Add(ref undecided, inconclusive);
            if (explanation is not null)
            {
                firstNotLinearizable.TryAdd(seed, explanation);
            }
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

        output.WriteLine($"{acknowledged} writes acknowledged, {inDoubt} in doubt, {reads} reads ({staleDataReads} stale across a takeover); {increments} increments acknowledged, {incrementsInDoubt} in doubt; {retriedOnBroken} requests retried after their connection broke; {handOversWaited} hand-overs waited for writes in flight");
        output.WriteLine($"{getOrAdds} get-or-adds, {added} acknowledged as adding their value; {factories} factories run, {overlapping} while another of the key ran");
        output.WriteLine($"sliding keys: {slidingSets} sets, {slidingReads} reads ({slidingFound} found), {slidingExpiries} expired by primaries; reads outside the promise that a known gap explains: "
            + (expiredEarlyInKnownGaps.IsEmpty ? "none" : string.Join("; ", expiredEarlyInKnownGaps.OrderBy(g => g.Key).Select(g => $"{g.Value} ({g.Key})"))));
        output.WriteLine($"acknowledged writes lost across a stale takeover in {lostAcrossTakeover.Count} of {seeds} seeds");
        foreach ((int seed, string lost) in lostAcrossTakeover.OrderBy(s => s.Key).Take(5))
        {
            output.WriteLine($"  seed {seed}: {lost}");
        }

        output.WriteLine($"keys not linearizable (issue 18): {notLinearizable} of {seeds * 6}, undecided {undecided} (the register checker took {Stopwatch.GetElapsedTime(0, checkerTicks).TotalSeconds:0.0} s of CPU)");
        foreach ((int seed, string explanation) in firstNotLinearizable.OrderBy(s => s.Key).Take(2))
        {
            output.WriteLine($"  seed {seed}: {explanation}");
        }

        output.WriteLine($"{fsyncAlways} seeds under FsyncPolicy.Always, with {correlatedPowerLosses} power losses of two machines or the whole farm");
        output.WriteLine($"{splits} slices split; {deltas} delta catch-ups from hints, {fulls} full copies; {repaired} keys repaired by anti-entropy");
        output.WriteLine($"{seeds} seeds, {simulatedMs / 3_600_000.0:0.0} h simulated in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(deltas > 0 && repaired > 0, "the run neither caught a replica up by a delta nor repaired a key: the hints or anti-entropy are no longer simulated");
        Assert.True(failures.IsEmpty, string.Join(Environment.NewLine, failures.OrderBy(f => f.Key).Select(f => $"seed {f.Key}: {f.Value} (replay: Pinned({f.Key}))")));
        Assert.True(staleAcrossTakeover.Count <= seeds / 3, $"stale read windows across a takeover in {staleAcrossTakeover.Count} of {seeds} seeds, past the ceiling of a third");
        Assert.True(lostAcrossTakeover.Count <= seeds / 100, $"acknowledged writes lost across a stale takeover in {lostAcrossTakeover.Count} of {seeds} seeds, past the ceiling of one in a hundred");
    }

    /// <summary>
    /// The long-running mode, for a developer to leave running (<c>SMDSS_PLACEMENT_SEEDS=forever</c>,
    /// from seed <c>SMDSS_PLACEMENT_FROM</c>, default 1,001, past the seeds every run covers): all
    /// twelve changes per seed, seeds on every core until the process is stopped. Every failing
    /// seed goes at once, with its failure, into <c>placement-search.log</c> in the temp folder's
    /// <c>smdss-tests</c>, with a line of progress every thousand seeds; replay one with Replay.
    /// </summary>
    private static void SearchUntilStopped()
    {
        long from = long.TryParse(Environment.GetEnvironmentVariable("SMDSS_PLACEMENT_FROM"), CultureInfo.InvariantCulture, out long f) ? f : 1_001;
        string folder = Path.Combine(Path.GetTempPath(), "smdss-tests");
        Directory.CreateDirectory(folder);
        string log = Path.Combine(folder, "placement-search.log");
        var gate = new object();
        void Write(string line)
        {
            lock (gate)
            {
                File.AppendAllText(log, $"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} {line}{Environment.NewLine}");
            }
        }

        Write($"searching from seed {from}");
        var clock = Stopwatch.StartNew();
        long failed = 0;
        for (long batch = from; ; batch += 1_000)
        {
            long first = batch;
            Parallel.For(0, 1_000, i =>
            {
                int seed = checked((int)(first + i));
                string? failure;
                try
                {
                    failure = Run(seed, out PlacementSimulation sim, detailed: false);
                    if (failure is null && sim.Data.LostAcrossStaleTakeover.FirstOrDefault() is { } known)
                    {
                        Write($"seed {seed}: known gap, lost across a stale takeover: {known} (replay: SMDSS_REPLAY_SEED={seed})");
                    }
                }
#pragma warning disable CA1031 // A bug of the simulation in one seed is that seed's failure; the search goes on.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    failure = $"threw {ex}";
                }

                if (failure is not null)
                {
                    Interlocked.Increment(ref failed);
                    Write($"seed {seed}: {failure} (replay: SMDSS_REPLAY_SEED={seed})");
                }
            });
            Write($"seeds {from}..{first + 999} done in {clock.Elapsed.TotalMinutes:0.0} min, {Interlocked.Read(ref failed)} failed");
        }
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
    /// Seeds that failed once before the simulation had counters and power losses, replayed with their trace. 15, 16, 23, 159, 165: after a node was
    /// cut off and the links healed, each side held the other Down and neither called the other
    /// again (gossip went to reachable peers and friends, and the healed node's friends were dead
    /// or it was the friend itself), so the cluster stayed split for good; a node now gossips
    /// with a node it holds Down every fifth round (<see cref="SmdSs.Membership.GossipTarget"/>).
    /// 150: maps compared at the very moment nodes forget a record gone past the retention, each
    /// on its own clock; a record being forgotten just now no longer counts as a difference.
    /// 69: two joiners confirmed each other's bootstrap maps before reaching the founder and
    /// committed epoch 1, which tied the founder's records and won by node id (the founder's
    /// copies would be wiped); a bootstrap map is now confirmed only by an established one.
    /// 3, 26, 36: during a split, a primary still counting the other side Up dropped a replica
    /// there and acknowledged writes two replicas on its side held; that replica took the slice
    /// over from its older record without them (reads missed acknowledged writes); a record that
    /// takes a replica out now binds writes to it until a majority holds it, and a takeover waits
    /// for exchanges with a majority. 28: just after a partition healed, a node took over from a
    /// primary it had not yet heard from again, which had meanwhile confirmed a newer record with
    /// the others and acknowledged a write under it; full catch-ups from the new primary then
    /// wiped it everywhere. A takeover now needs a direct ping of the primary to have failed within
    /// the last 2 s, and exchanges with a majority after that.
    /// </summary>
    [Theory]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(23)]
    [InlineData(159)]
    [InlineData(165)]
    [InlineData(150)]
    [InlineData(69)]
    [InlineData(3)]
    [InlineData(26)]
    [InlineData(36)]
    [InlineData(28)]
    public void Pinned_in_the_first_scope(int seed)
    {
        // Without counters and power losses, which would change what these seeds replay.
        string? failure = Run(seed, out PlacementSimulation sim, scope: SimulationScope.First);
        AssertPinned(sim, failure);
    }

    /// <summary>
    /// Seeds in the full scope, replayed with their trace; a failing seed of the bulk run goes here.
    /// 11: in its first change (a graceful stop and restart) it caught a primary that, on purpose
    /// for the check's sake, applied a retried increment again instead of answering it.
    /// 17, 32: a node whose machine lost power came back before anyone took its slices over, on
    /// files without its last writes, and answered an increment on a counter that had lost one
    /// (an answer given twice); it now steps down first (see SmdSsNode.StepDown).
    /// 64, 70: a primary cut off applied an increment that never reached its replicas; the next
    /// primary applied its retry again, with another answer; the old primary, caught up, kept its
    /// own answer (a replica keeps the first answer it learns) and, primary again, gave it to the
    /// retry: the answer of another increment. The answer that comes with a value that replaces a
    /// node's own now replaces the node's answer.
    /// 1169, 1869 (found by the long search): the cluster counted as settled while a node back
    /// from a power loss still stepped down (its goodbye lost, retried after the timeout); a node
    /// stepping down now counts as unsettled.
    /// </summary>
    [Theory]
    [InlineData(11)]
    [InlineData(17)]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(70)]
    [InlineData(1169)]
    [InlineData(1869)]
    public void Pinned_before_splits(int seed)
    {
        // Without splits, which would change what these seeds replay.
        string? failure = Run(seed, out PlacementSimulation sim, scope: SimulationScope.Second);
        AssertPinned(sim, failure);
    }

    /// <summary>
    /// Seeds of the scope with splits (slices split while the data grows), before cuts of single links, replayed with their trace.
    /// 432: a primary applied an increment that one
    /// replica missed (its machine had lost power), so it held the answer in doubt; the slice was
    /// handed to the other replica, which had the increment and wrote the counter again without
    /// its answer (it carried only its own operations in doubt); the old primary, replaced by that
    /// value, forgot the answer, and once primary again applied the retry a second time. A node
    /// that comes to lead a slice now carries the answers it learned as its replica.
    /// </summary>
    [Theory]
    [InlineData(432)]
    public void Pinned_before_link_cuts(int seed)
    {
        // Without cuts of single links and decommissions, which would change what these seeds replay.
        string? failure = Run(seed, out PlacementSimulation sim, scope: SimulationScope.Third);
        AssertPinned(sim, failure);
    }

    /// <summary>
    /// Seeds of the fifth scope (hints, anti-entropy, one-way cuts, FsyncPolicy.Always with
    /// correlated power losses), replayed with their trace.
    /// 667: a compare-and-swap applied by a primary that then handed its slice over missed one
    /// in-sync replica; a remove of the key followed; the new primary answered the swap's retry
    /// from the answer it had learned, but confirmed the key's value only when the key was live,
    /// so the replica kept serving the value from before the swap. The confirmation now sends the
    /// key's current record, a tombstone too.
    /// </summary>
    [Theory]
    [InlineData(667)]
    public void Pinned_with_hints_and_anti_entropy(int seed)
    {
        string? failure = Run(seed, out PlacementSimulation sim, scope: SimulationScope.Fifth);
        AssertPinned(sim, failure);
    }

    /// <summary>
    /// Seeds of the sixth scope (GetOrAdd; requests retried when a primary dies holding them),
    /// each found by the long search: a GetOrAdd's completion was applied at the primary, its
    /// replication refused (1508: the partition had just healed, the replicas' answers said
    /// deposed), and the claimer's retry found the value there and was answered "added" with no
    /// replica holding it; a replica in sync then read the key as absent. A completion that finds
    /// a value now replicates it before it answers or wakes the waiters.
    /// </summary>
    [Theory]
    [InlineData(1508)]
    [InlineData(1829)]
    [InlineData(2448)]
    public void Pinned_with_get_or_add(int seed)
    {
        string? failure = Run(seed, out PlacementSimulation sim, scope: SimulationScope.Sixth);
        AssertPinned(sim, failure);
    }

    /// <summary>
    /// Seeds of the seventh scope (connections that break alone, none at a power loss), found by
    /// the long search. 2164: a GetOrAdd that came after a Remove waited on a claim whose value
    /// was being replicated, and was handed that value, removed meanwhile; the held requests of a
    /// flight that ends now look at the key again.
    /// </summary>
    [Theory]
    [InlineData(2164)]
    public void Pinned_with_connections_breaking(int seed)
    {
        string? failure = Run(seed, out PlacementSimulation sim, scope: SimulationScope.Seventh);
        AssertPinned(sim, failure);
    }

    /// <summary>
    /// Seeds of the ninth scope (sliding expiration), each failing without its fix (seeds 7 and 355
    /// found the first and third; the simulation's later changes moved their runs, so 13 and 632,
    /// found with each fix taken out, stand for them). 13: a replica stopped and came back; its
    /// delta catch-up resent an entry it held at the same version, whose deadline reads elsewhere
    /// had moved meanwhile, and the replica kept its own (a Put of a version held changed nothing);
    /// it then led the slice and expired the entry early. A Put from the primary of the version
    /// held now takes the primary's deadline (SliceStore.ApplyFromPrimary). 3: a Set forwarded and
    /// retried during a partition reached its primary after the deadline its caller had computed,
    /// and took effect expired, replacing an entry a read had just renewed; a write's sliding window
    /// now runs from its apply at the primary at the earliest (EntryExpiry.AppliedAt). 632: a
    /// replica's read found its copy's deadline already past the new one (another replica's touch,
    /// not confirmed by the primary, had moved it), so it sent no renewal, and the primary expired
    /// the key before that read's deadline; a read now sends its renewal also when the primary is
    /// not known to hold it (SlidingRenewal.Slide). 6: a primary read an entry as expired; a split
    /// of its slice a moment later made it a new primary of the half, whose 3 s of leniency found the
    /// entry live again; a piece of a split of its own is now newly led for leases only, not for
    /// renewals (ReadLeases.TookOverSince), as every renewal of the whole reached it. 2: a new
    /// primary's catch-up of a joining replica left out an entry expired on its clock that its own
    /// leniency still read (and renewed); the replica, then handed the slice, did not have it; a
    /// catch-up now leaves out only what its primary reads as expired. 1611, 2661 and 2356 (long
    /// search) are known gaps the checks must tell apart, not node bugs: a failed write's value read
    /// at the primary that applied it, then lost or replaced after a partition healed (1611, 2661),
    /// and an entry read as gone, then live again at a node taking its slice over (2356). 3330 (long
    /// search, a known gap too): a Set that failed on the minority side of a partition left a newer
    /// version on one node; once healed, the delta and the anti-entropy pass (which does not see an
    /// expired copy) left it there, expired, beside the acknowledged older version on the others;
    /// that node, handed the slice, read the key as gone, and a replica then read the older version.
    /// </summary>
    [Theory]
    [InlineData(3330)]
    [InlineData(13)]
    [InlineData(3)]
    [InlineData(632)]
    [InlineData(6)]
    [InlineData(2)]
    [InlineData(1611)]
    [InlineData(2661)]
    [InlineData(2356)]
    public void Pinned_with_sliding_expiry(int seed)
    {
        string? failure = Run(seed, out PlacementSimulation sim, scope: SimulationScope.Ninth);
        AssertPinned(sim, failure);
    }

    private void AssertPinned(PlacementSimulation sim, string? failure)
    {
        foreach (string line in sim.TraceTail(failure is null ? 20 : 600))
        {
            output.WriteLine(line);
        }

        Assert.True(failure is null, failure);
        Assert.Empty(sim.Data.LostAcrossStaleTakeover);
    }

    /// <summary>
    /// Runs one seed again and prints its whole trace:
    /// <c>SMDSS_REPLAY_SEED=36 dotnet test --filter "FullyQualifiedName~PlacementSimulationTests.Replay" --logger "console;verbosity=detailed"</c>
    /// (without the variable, seed 1 and the end of its trace).
    /// </summary>
    [Fact]
    public void Replay()
    {
        string? given = Environment.GetEnvironmentVariable("SMDSS_REPLAY_SEED");
        int seed = int.TryParse(given, CultureInfo.InvariantCulture, out int n) ? n : 1;
        string? failure = Run(seed, out PlacementSimulation sim);
        foreach (string line in given is null ? sim.TraceTail(20) : sim.Trace)
        {
            output.WriteLine(line);
        }

        output.WriteLine($"{sim.Data.InDoubt} writes in doubt: {string.Join("; ", sim.Data.InDoubtWrites.Take(20))}");
        (int bad, int undecided, string? explanation) = sim.Data.CheckLinearizable();
        output.WriteLine($"keys not linearizable: {bad}, undecided: {undecided}{(explanation is null ? "" : $"; {explanation}")}");
        Assert.True(failure is null, failure);
    }

    // The bulk run's seeds take seven changes (a seed's first seven are the same as in the full
    // twelve: the run is a prefix), then the end's convergence check; pinned seeds and replays
    // take all twelve. Keeps CI in budget.
    private const int BulkSteps = 7;
    private const int FullSteps = 12;

    private static string? Run(int seed, out PlacementSimulation sim, int steps = FullSteps, SimulationScope? scope = null, bool detailed = true)
    {
        sim = new PlacementSimulation(seed, scope) { Detailed = detailed };
        return Scenario(sim, steps);
    }

    // Three nodes form the cluster; then random changes, each left to settle.
    private static string? Scenario(PlacementSimulation sim, int steps)
    {
        sim.Bootstrap(staleDown: sim.Random.Next(0, 4) == 0 ? sim.Random.Next(1, 200) : 0);
        sim.Data.Start();
        if (sim.Scope.SlidingExpiry)
        {
            sim.Sliding.Start();
        }

        sim.RunUntil(sim.Random.Next(0, 3_000));
        sim.Join();
        sim.RunUntil(sim.NowMs + sim.Random.Next(0, 3_000));
        sim.Join();
        if (Settle(sim, "formation") is { } failure)
        {
            return failure;
        }

        for (int step = 0; step < steps; step++)
        {
            string change = Change(sim);
            sim.Phase = $"step {step}: {change}";
            sim.Note(sim.Phase);
            if (Settle(sim, change) is { } stepFailure)
            {
                return $"step {step}: {stepFailure}";
            }
        }

        return sim.Scope.HintsAndAntiEntropy ? Converge(sim) : null;
    }

    // Once faults and clients stop, and the operations under way end, one anti-entropy pass on
    // every primary leaves every in-sync replica of each key with the same version and value
    // (convergence), and still nothing acknowledged lost.
    private static string? Converge(PlacementSimulation sim)
    {
        sim.Phase = "the end: clients stopped, anti-entropy";
        sim.Note(sim.Phase);
        sim.Data.Stop();
        sim.Sliding.Stop();
        // A client's operation is forwarded and retried for up to the request timeout; then whatever a primary still decides.
        sim.RunUntil(sim.NowMs + 10_000);
        if (RunUntilIdle(sim) is { } busy)
        {
            return busy;
        }

        foreach (SimPlacementNode node in sim.Running)
        {
            node.RepairNow();
        }

        sim.RunUntil(sim.NowMs + 5_000);
        if (RunUntilIdle(sim) is { } stillBusy)
        {
            return stillBusy;
        }

        sim.Data.CheckNothingAcknowledgedLost();
        return sim.Data.Disagreement() ?? (sim.Data.LostWrites.Count > 0 ? sim.Data.LostWrites[0] : sim.Sliding.Violations.Count > 0 ? sim.Sliding.Violations[0] : sim.Refusals.Count > 0 ? sim.Refusals[0] : null);
    }

    // Runs until no node has a write, commit or catch-up under way (a request's time at most, twice over).
    private static string? RunUntilIdle(PlacementSimulation sim)
    {
        long deadline = sim.NowMs + 30_000;
        while (sim.WorkInFlight > 0 || sim.Running.Any(n => n.WritesInFlight > 0))
        {
            if (sim.NowMs >= deadline)
            {
                return $"at {sim.NowMs} ms, {sim.Phase}: still busy after 30 s ({sim.WorkInFlight} commits or catch-ups, writes in flight on {string.Join(",", sim.Running.Where(n => n.WritesInFlight > 0).Select(n => n.Id))})";
            }

            sim.RunUntil(sim.NowMs + 100);
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
            if (sim.Scope.LinkCutsAndDecommissions)
            {
                choices.Add("decommission");
            }
        }

        if (running.Count >= 3)
        {
            if (sim.Scope.PowerLoss)
            {
                choices.Add("power loss and restart");
            }

            choices.Add("crash and restart");
            choices.Add("stop gracefully and restart");
            choices.Add("cut off and heal");
            choices.Add("split in two and heal");
            if (sim.Scope.LinkCutsAndDecommissions)
            {
                choices.Add("cut a link and heal");
            }

            if (sim.Scope.HintsAndAntiEntropy)
            {
                choices.Add("cut a link one way and heal");
            }

            if (sim.FsyncAlways)
            {
                choices.Add("power loss of two machines and restart");
                choices.Add("power loss of the whole farm and restart");
            }
        }

        string change = choices[sim.Random.Next(choices.Count)];
        if (sim.Scope.Splits && sim.Random.Next(4) == 0)
        {
            // The data grows through this change: slices split meanwhile.
            sim.GrowData(sim.Random.Next(2_000, 20_000));
            change += ", data growing";
        }

        switch (change.Split(',')[0])
        {
            case "join":
                sim.Join();
                break;
            case "decommission":
                sim.Decommission(running[sim.Random.Next(running.Count)]);
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
            case "power loss and restart":
                var unlucky = running[sim.Random.Next(running.Count)];
                sim.PowerLoss(unlucky);
                sim.Later(sim.Random.Next(500, 30_000), () => sim.Restart(unlucky));
                break;
            case "cut a link and heal":
                var ends = running.OrderBy(_ => sim.Random.Next()).Take(2).ToList();
                sim.CutLink(ends[0], ends[1]);
                sim.Later(sim.Random.Next(500, 20_000), sim.Heal);
                break;
            case "power loss of two machines and restart":
            case "power loss of the whole farm and restart":
                // Machines that share a rack or a feed: each comes back on its own time.
                sim.CorrelatedPowerLosses++;
                foreach (SimPlacementNode machine in running.OrderBy(_ => sim.Random.Next()).Take(change.Contains("two", StringComparison.Ordinal) ? 2 : running.Count))
                {
                    sim.PowerLoss(machine);
                    sim.Later(sim.Random.Next(500, 30_000), () => sim.Restart(machine));
                }

                break;
            case "cut a link one way and heal":
                var ways = running.OrderBy(_ => sim.Random.Next()).Take(2).ToList();
                sim.CutOneWay(ways[0], ways[1]);
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

            if (sim.Sliding.Violations.Count > 0)
            {
                return sim.Sliding.Violations[0];
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
                if (sim.Commits == commits && sim.Unsettled().Count > 0 && sim.SuspectsARunningNode())
                {
                    // A false suspicion (every message may be lost) that the suspect refutes is not churn.
                    sim.RunUntil(sim.NowMs + PlacementSimulation.DetectionMs);
                }

                sim.Data.CheckNothingAcknowledgedLost();
                sim.Data.CheckCounters();
                return sim.StaleReads.Count > 0 ? sim.StaleReads[0]
                    : sim.Data.LostWrites.Count > 0 ? sim.Data.LostWrites[0]
                    : sim.Refusals.Count > 0 ? sim.Refusals[0]
                    : sim.Commits == commits && sim.Unsettled().Count == 0 ? null
                    : $"after {change}, settled and then changed again ({sim.Commits - commits} commits in {QuietMs / 1000} s): {string.Join("; ", sim.Unsettled().Take(3))}";
            }
        }

        return $"after {change}, not settled in {SettleBoundMs / 1000} s: {string.Join("; ", sim.Unsettled().Take(5))}";
    }
}
