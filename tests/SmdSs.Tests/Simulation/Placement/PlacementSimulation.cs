using System.Collections.Immutable;
using System.IO.Hashing;
using System.Text;
using SmdSs.Model;
using SmdSs.Placement;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>
/// Placement of a whole cluster in virtual time, in one thread, from one seed: every node runs
/// the real <see cref="PlacementRound"/> on its own view of the slice map, on the host's
/// schedule (a round every 500 ms, the next one only once every commit of the last is done; a
/// replica leaves the in-sync set only after its read lease ran out; catch-ups take their
/// time and are committed by the primary), and views travel as they do between nodes (a
/// record pushed to its replicas on commit, gossip with a random peer every 200 ms), late or
/// lost or cut off by a partition; membership is gossiped and failures detected by silence, as
/// the node does (<see cref="SimPlacementNode"/>). The same seed gives the same trace.
/// </summary>
internal sealed class PlacementSimulation
{
    public const int RoundMs = 500;
    public const int GossipMs = 200;
    public const int LeaseMs = 2_000;
    public const int GraceMs = 60_000;
    public const int DetectionMs = 4_000;

    /// <summary>Wall clocks read Unix time from here on (node records carry times gone in it).</summary>
    public const long WallEpochMs = 1_800_000_000_000;

    /// <summary>How long a gone node stays in the maps: short, so that forgetting happens within a run.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(30);

    private readonly HashSet<(NodeId From, NodeId To)> _cut = [];
    private NodeId? _first;

    private readonly PriorityQueue<Action, (long At, long Sequence)> _events = new();
    private readonly Dictionary<NodeId, SimPlacementNode> _nodes = [];
    private readonly List<string> _trace = [];
    private long _sequence;

    /// <param name="seed">Everything that happens follows from it.</param>
    /// <param name="scope">What it simulates beyond its first version (seeds pinned before run without it, to replay what they found); all by default.</param>
    /// <param name="sliceCount">Slices of the initial map.</param>
    /// <param name="replicationFactor">Replicas per slice.</param>
    public PlacementSimulation(int seed, SimulationScope? scope = null, int sliceCount = 16, int replicationFactor = 3)
    {
        Scope = scope ?? SimulationScope.Full;
        Seed = seed;
        Random = new Random(seed);
        SliceCount = sliceCount;
        ReplicationFactor = replicationFactor;
        Data = new DataWorkload(this, Scope.Counters);
        Sliding = new SlidingWorkload(this);
        FsyncAlways = Scope.HintsAndAntiEntropy && Random.Next(4) == 0;
    }

    /// <summary>
    /// The farm runs with FsyncPolicy.Always (one seed in four from scope 5): a file holds a write
    /// on the disk before the write is acknowledged, so a power loss loses nothing acknowledged and
    /// the node need not step down; machines may then lose power together, the whole farm too.
    /// Otherwise EverySecond, where a power loss may lose the last second and one machine loses it at a time.
    /// </summary>
    public bool FsyncAlways { get; }

    /// <summary>Changes in which several machines lost power together.</summary>
    public int CorrelatedPowerLosses { get; set; }

    public SimulationScope Scope { get; }

    /// <summary>The trace also notes every increment applied (replays and pinned seeds; the bulk run goes faster without).</summary>
    public bool Detailed { get; init; }

    /// <summary>The clients' operations and the checks on their histories.</summary>
    public DataWorkload Data { get; }

    /// <summary>The clients of sliding keys (scope 9).</summary>
    public SlidingWorkload Sliding { get; }

    /// <summary>Sliding entries primaries expired.</summary>
    public int SlidingExpiries { get; set; }

    public int Seed { get; }

    public Random Random { get; }

    public int SliceCount { get; }

    /// <summary>The initial layout every node starts from (the farm's InitialSliceCount).</summary>
    public SliceMap InitialLayout => _initialLayout ??= SliceMap.CreateInitial(SliceCount, []);

    private SliceMap? _initialLayout;

    public int ReplicationFactor { get; }

    public long NowMs { get; private set; }

    public long LastCommitMs { get; private set; }

    public int Commits { get; private set; }

    /// <summary>Commits waiting out a lease and catch-ups under way.</summary>
    public int WorkInFlight { get; set; }

    public IReadOnlyList<string> Trace => _trace;

    public IEnumerable<SimPlacementNode> Running => _nodes.Values.Where(n => n.Running).OrderBy(n => n.Id);

    public IEnumerable<SimPlacementNode> Nodes => _nodes.Values.OrderBy(n => n.Id);

    /// <summary>A hash of the whole trace: equal for equal seeds.</summary>
    public ulong TraceHash
    {
        get
        {
            var hash = new XxHash64();
            foreach (string line in _trace)
            {
                hash.Append(Encoding.UTF8.GetBytes(line));
            }

            return hash.GetCurrentHashAsUInt64();
        }
    }

    public void Note(string line) => _trace.Add($"{NowMs,8} {line}");

    public void At(long atMs, Action action) => _events.Enqueue(action, (Math.Max(atMs, NowMs), _sequence++));

    public void After(long delayMs, Action action) => At(NowMs + delayMs, action);

    /// <summary>A change of the scenario's (a restart, a heal) due later: nothing counts as settled before it and its detection.</summary>
    public void Later(long delayMs, Action change)
    {
        ChangesUntilMs = Math.Max(ChangesUntilMs, NowMs + delayMs);
        After(delayMs, change);
    }

    public long ChangesUntilMs { get; private set; }

    /// <summary>A slice whose copy holds this many live keys is split (as <c>SplitThresholdKeys</c>), while the data grows.</summary>
    public const int SplitKeys = 4;

    /// <summary>No slice is split past this many (the simulation's cost grows with them).</summary>
    public const int MaxSlices = 24;

    /// <summary>Until when primaries split slices that passed <see cref="SplitKeys"/>.</summary>
    public long SplitsUntilMs { get; private set; }

    /// <summary>Catch-ups that streamed to their end: deltas from a hint, and full copies.</summary>
    public int DeltaCatchUps { get; set; }

    /// <summary>Hand-overs that waited for the primary's writes in flight on the slice (scope 8).</summary>
    public int HandOversThatWaited { get; set; }

    /// <summary>Client requests retried because their connection broke (the primary's process died holding them, or the answer was lost).</summary>
    public int RetriedOnBrokenConnection { get; set; }

    public int FullCatchUps { get; set; }

    /// <summary>Keys anti-entropy pushed to a replica or pulled from one.</summary>
    public int KeysRepaired { get; set; }

    /// <summary>Slices split during the run.</summary>
    public int Splits { get; private set; }

    /// <summary>The farm's data grows for <paramref name="durationMs"/>: primaries split slices past the threshold meanwhile; nothing counts as settled before it ends.</summary>
    public void GrowData(long durationMs)
    {
        SplitsUntilMs = NowMs + durationMs;
        Later(durationMs, () => Note("the data stops growing"));
    }

    /// <summary><paramref name="node"/> cut <paramref name="slice"/> into <paramref name="lower"/> and <paramref name="upper"/>.</summary>
    public void SliceSplit(SimPlacementNode node, PieSlice slice, PieSlice lower, PieSlice upper)
    {
        Splits++;
        Commits++;
        LastCommitMs = NowMs;
        Note($"{node.Id} splits {slice.Range.Start:x8} e{slice.Epoch} at {upper.Range.Start:x8}: e{lower.Epoch} [{string.Join(",", lower.Replicas)}] in-sync [{string.Join(",", lower.InSync)}]");
    }

    public void RunUntil(long endMs)
    {
        while (_events.TryPeek(out _, out var when) && when.At <= endMs)
        {
            Action next = _events.Dequeue();
            NowMs = Math.Max(NowMs, when.At);
            next();
        }

        NowMs = endMs;
    }

    /// <summary>
    /// The first node: it starts alone with the initial map, every slice its own, and with
    /// <paramref name="staleDown"/> records of nodes that stopped hours ago and never came back
    /// (a farm's map keeps them for the whole retention); gossip spreads them to every node.
    /// </summary>
    public SimPlacementNode Bootstrap(int staleDown = 0)
    {
        var node = NewNode();
        _first = node.Id;
        NodeRecord[] stale = [.. Enumerable.Range(0, staleDown).Select(_ => new NodeRecord(
            new NodeId((ulong)Random.NextInt64(1, long.MaxValue)), "gone", NodeState.Down, 1 << 20, 0, 0, WallEpochMs + NowMs - Random.NextInt64(60_000, 25 * 60_000)))];
        node.Start(SliceMap.CreateInitial(SliceCount, [node.Id]), NodeMap.Of(stale), alone: true);
        return node;
    }

    /// <summary>A new node with a running node as its friend: a bootstrap map at epoch 0 (any cluster's map wins over it), nobody else known.</summary>
    public SimPlacementNode Join()
    {
        List<SimPlacementNode> running = [.. Running];
        SimPlacementNode friend = running[Random.Next(running.Count)];
        var node = NewNode();
        SliceMap bootstrap = SliceMap.FromSlices(SliceMap.CreateInitial(SliceCount, [node.Id]).Slices.Select(s => s with { Epoch = 0 }));
        node.JoinedThrough = friend.Id;
        node.Start(bootstrap, NodeMap.Empty, alone: false);
        Note($"{node.Id} joins through {friend.Id}");
        return node;
    }

    /// <summary>Kill -9: the node stops at once; the others find out by its silence.</summary>
    public void Crash(SimPlacementNode node)
    {
        _crashes.Add((NowMs, long.MaxValue, node.Id));
        node.Stop();
        Note($"{node.Id} crashes");
    }

    /// <summary>
    /// A power loss of the node's machine: the process stops at once, and its files lose what
    /// they took since the last fsync (FsyncPolicy.EverySecond), or a part of it.
    /// </summary>
    public void PowerLoss(SimPlacementNode node)
    {
        // No FIN, no reset: its peers' requests wait out their deadlines.
        _crashes.Add((NowMs, long.MaxValue, node.Id));
        node.Stop(connectionsBreak: !Scope.ConnectionsBreakAlone);
        // As NodeDataDirectory: under FsyncPolicy.Always the files lack nothing the node acknowledged.
        node.FilesMayLackWrites = !FsyncAlways;
        Note($"{node.Id} loses power, {node.LoseUnsyncedWrites()} unsynced writes lost");
    }

    /// <summary>A graceful stop: the node hands over, gives its leases back and says goodbye before it stops.</summary>
    public void StopGracefully(SimPlacementNode node)
    {
        node.SayGoodbye();
        Note($"{node.Id} stops gracefully");
    }

    /// <summary>A decommission: the node moves every slice it holds to the others, then leaves for good (or, past the timeout, serves on).</summary>
    public void Decommission(SimPlacementNode node)
    {
        Note($"{node.Id} decommissions");
        node.Decommission(60_000, left => Note(left ? $"{node.Id} decommissioned" : $"{node.Id} gave up decommissioning, serves on"));
    }

    /// <summary>A restart on its files: the maps it saved, a higher incarnation, a peer it knew as its friend.</summary>
    public void Restart(SimPlacementNode node)
    {
        if (node.Running)
        {
            // Still saying goodbye: the restart comes once it stopped.
            Later(500, () => Restart(node));
            return;
        }

        node.Start(node.View, node.Nodes, alone: false);
        int down = _crashes.FindLastIndex(c => c.Node == node.Id);
        if (down >= 0 && _crashes[down].UpMs == long.MaxValue)
        {
            _crashes[down] = _crashes[down] with { UpMs = NowMs };
        }

        Note($"{node.Id} restarts");
    }

    /// <summary>Cuts every link between <paramref name="node"/> and the others, both ways, until <see cref="Heal"/>.</summary>
    public void Isolate(SimPlacementNode node)
    {
        foreach (SimPlacementNode other in _nodes.Values.Where(n => n != node))
        {
            AddCut(node.Id, other.Id);
            AddCut(other.Id, node.Id);
        }

        Note($"{node.Id} cut off");
    }

    /// <summary>Cuts every link between two halves of the running nodes, both ways, until <see cref="Heal"/>.</summary>
    public void Split()
    {
        List<SimPlacementNode> running = [.. Running.OrderBy(_ => Random.Next())];
        List<SimPlacementNode> half = running[..(running.Count / 2)];
        foreach (SimPlacementNode a in half)
        {
            foreach (SimPlacementNode b in _nodes.Values.Where(n => !half.Contains(n)))
            {
                AddCut(a.Id, b.Id);
                AddCut(b.Id, a.Id);
            }
        }

        Note($"split: {string.Join(",", half.Select(n => n.Id))} apart");
    }

    /// <summary>Cuts the link between <paramref name="a"/> and <paramref name="b"/>, both ways, until <see cref="Heal"/>: each still reaches every other node (a partial partition).</summary>
    public void CutLink(SimPlacementNode a, SimPlacementNode b)
    {
        AddCut(a.Id, b.Id);
        AddCut(b.Id, a.Id);
        Note($"link {a.Id} - {b.Id} cut");
    }

    /// <summary>Cuts the link from <paramref name="from"/> to <paramref name="to"/> only, until <see cref="Heal"/>: what <paramref name="to"/> sends still arrives (a one-way partition).</summary>
    public void CutOneWay(SimPlacementNode from, SimPlacementNode to)
    {
        AddCut(from.Id, to.Id);
        Note($"link {from.Id} -> {to.Id} cut");
    }

    public void Heal()
    {
        foreach ((NodeId from, NodeId to) in _cut)
        {
            _cutsHealed.Add((_cutSince[(from, to)], NowMs, from, to));
        }

        _cut.Clear();
        _cutSince.Clear();
        Note("links healed");
    }

    public bool IsCut(NodeId from, NodeId to) => _cut.Contains((from, to));

    private void AddCut(NodeId from, NodeId to)
    {
        if (_cut.Add((from, to)))
        {
            _cutSince[(from, to)] = NowMs;
        }
    }

    // Faults that lose renewals on their way or in a node's memory: crashes and power losses, and links cut (from when, until healed).
    // Crashes and power losses: from when, until the restart.
    private readonly List<(long AtMs, long UpMs, NodeId Node)> _crashes = [];
    private readonly Dictionary<(NodeId From, NodeId To), long> _cutSince = [];
    private readonly List<(long FromMs, long ToMs, NodeId From, NodeId To)> _cutsHealed = [];

    /// <summary>
    /// True when a renewal made by <paramref name="renewer"/> between <paramref name="fromMs"/> and
    /// <paramref name="toMs"/> may not have reached <paramref name="judges"/> (the known gaps of
    /// ARCHITECTURE: a touch lost with the renewer or a judge that crashed or lost power before it
    /// was sent or persisted, or was down then and later led the slice without a catch-up; or
    /// delayed past the propagation bound by a cut link between the renewer and a judge).
    /// </summary>
    public bool RenewalMayBeLost(NodeId renewer, IReadOnlyCollection<NodeId> judges, long fromMs, long toMs)
    {
        bool Between(NodeId a, NodeId b) => (a == renewer && judges.Contains(b)) || (b == renewer && judges.Contains(a));
        return _crashes.Exists(c => c.AtMs <= toMs && c.UpMs >= fromMs && (c.Node == renewer || judges.Contains(c.Node)))
            || _cutSince.Any(c => Between(c.Key.From, c.Key.To) && c.Value <= toMs)
            || _cutsHealed.Exists(c => Between(c.From, c.To) && c.FromMs <= toMs && c.ToMs >= fromMs);
    }

    /// <summary>A node's configured friends: the first node, as in a farm where every node lists it, and the node it joined through.</summary>
    public IEnumerable<NodeId> Friends(SimPlacementNode node) =>
        new[] { _first, node.JoinedThrough }.OfType<NodeId>().Where(f => f != node.Id).Distinct();

    // The records committed by a takeover: the slice, the epoch of the record it started from and its own, who took over and when.
    private readonly List<(SliceRange Range, long BaseEpoch, long Epoch, NodeId Taker, long AtMs)> _takeovers = [];

    /// <summary>
    /// True when a write of the key of hash <paramref name="keyHash"/>, acknowledged at
    /// <paramref name="acknowledgedAtMs"/> under the record at <paramref name="epoch"/> by
    /// <paramref name="holders"/>, was lost to a later takeover by a node that did not hold it,
    /// from a record older than that one (the known gap: see ARCHITECTURE).
    /// </summary>
    public bool LostToStaleTakeover(uint keyHash, long epoch, long acknowledgedAtMs, IReadOnlySet<NodeId> holders) =>
        _takeovers.Any(t => t.Range.Contains(keyHash) && t.Epoch > epoch && t.BaseEpoch < epoch
            && t.AtMs >= acknowledgedAtMs && !holders.Contains(t.Taker));

    public void Committed(SimPlacementNode node, SliceChange change)
    {
        if (change.BasedOn.Primary != node.Id && change.Next.Primary == node.Id)
        {
            _takeovers.Add((change.Next.Range, change.BasedOn.Epoch, change.Next.Epoch, node.Id, NowMs));
        }

        Commits++;
        LastCommitMs = NowMs;
        PieSlice next = change.Next;
        Note($"{node.Id} commits {next.Range.Start:x8} e{next.Epoch} [{string.Join(",", next.Replicas)}] in-sync [{string.Join(",", next.InSync)}] ({change.Reason})");
    }

    /// <summary>
    /// A message that arrives after a few milliseconds, or (one in twenty unless
    /// <paramref name="lossless"/>, or over a cut link, or at a process that died meanwhile)
    /// never; its arrival counts as contact. Data travels <paramref name="lossless"/>, as on the
    /// node's connections, which lose requests only when they break. A message to a process that is
    /// not running (a dead node's closed port) is <paramref name="refused"/> a moment later, at the
    /// sender, if it was alive to hear it.
    /// </summary>
    public void Send(SimPlacementNode from, NodeId toId, Action<SimPlacementNode> deliver, bool lossless = false, Action? refused = null)
    {
        if (!_nodes.TryGetValue(toId, out SimPlacementNode? to) || IsCut(from.Id, toId) || (!lossless && Random.Next(20) == 0))
        {
            return;
        }

        long life = to.Life;
        long senderLife = from.Life;
        After(Random.Next(1, 30), () =>
        {
            if (to.Running && to.Life == life && !IsCut(from.Id, toId))
            {
                to.HeardFrom(from.Id);
                deliver(to);
            }
            else if (refused is not null && !to.Running && !IsCut(toId, from.Id))
            {
                After(Random.Next(1, 30), () =>
                {
                    if (from.Running && from.Life == senderLife)
                    {
                        refused();
                    }
                });
            }
        });
    }

    public SimPlacementNode? Find(NodeId id) => _nodes.GetValueOrDefault(id);

    /// <summary>How far <paramref name="node"/>'s wall clock is off the simulation's time.</summary>
    public long ClockOffsetMs(NodeId node) => _nodes[node].ClockOffsetMs;

    /// <summary>The most any node's clock is ahead (behind: <see cref="MinClockOffsetMs"/>) of the simulation's time.</summary>
    public long MaxClockOffsetMs => _nodes.Values.Max(n => n.ClockOffsetMs);

    public long MinClockOffsetMs => _nodes.Values.Min(n => n.ClockOffsetMs);

    /// <summary>Records an honest node refused (none should be).</summary>
    public List<string> Refusals { get; } = [];

    public void Refused(string what)
    {
        Note(what);
        Refusals.Add(what);
    }

    /// <summary>Every time a node could have served a stale read that no takeover explains, from the first one on.</summary>
    public List<string> StaleReads { get; } = [];

    /// <summary>
    /// Every time a node could have served a stale read across a takeover: as the primary the
    /// slice was taken from, or as a replica holding that primary's lease. Known gap (see
    /// ARCHITECTURE): a primary reads and grants leases while it hears from a majority, and after
    /// a partition heals a node still holding it Down may take its slices over before either
    /// learns of the other.
    /// </summary>
    public List<string> StaleReadsAcrossTakeover { get; } = [];


    /// <summary>What the scenario is doing now (named in a stale read).</summary>
    public string Phase { get; set; } = "formation";

    /// <summary>
    /// Local reads of the slice at <paramref name="start"/> are safe (checked whenever a node may
    /// newly read it locally, and at each commit): a node that may answer them from its own copy
    /// is in sync in every record of the slice newer than its own, on any node, running or not.
    /// A record committed without it may have had writes acknowledged that its copy lacks.
    /// </summary>
    public void CheckLocalReads(uint start, SimPlacementNode? reader = null)
    {
        foreach (SimPlacementNode node in reader is null ? Running : [reader])
        {
            if (_staleWindows.ContainsKey((node.Id, start)) || StaleRecord(node, start) is not { } newer)
            {
                continue;
            }

            PieSlice mine = node.View.Find(start);
            string stale = $"at {NowMs} ms, after {Phase}: {node.Id} may read {start:x8} locally at e{mine.Epoch} (primary {mine.Primary}) though {newer.Description}";
            Note($"STALE READ: {stale}");
            bool acrossTakeover = _takeovers.Any(t => Overlap(t.Range, mine.Range) && t.Epoch > mine.Epoch && t.Epoch <= newer.Record.Epoch);
            (acrossTakeover ? StaleReadsAcrossTakeover : StaleReads).Add(stale);
            _staleWindows[(node.Id, start)] = (NowMs, acrossTakeover);
            After(StaleWindowStepMs, () => FollowStaleWindow(node, start));
        }
    }

    /// <summary>How long each window in which a node could have served a stale read lasted, in ms.</summary>
    public List<long> StaleWindowsMs { get; } = [];

    private const int StaleWindowStepMs = 10;
    private readonly Dictionary<(NodeId, uint), (long OpenedMs, bool AcrossTakeover)> _staleWindows = [];

    /// <summary>True while <paramref name="node"/> may read the slice at <paramref name="start"/> stale across a takeover (the known gap).</summary>
    public bool InStaleWindowAcrossTakeover(NodeId node, uint start) =>
        _staleWindows.TryGetValue((node, start), out var window) && window.AcrossTakeover;

    private void FollowStaleWindow(SimPlacementNode node, uint start)
    {
        if (StaleRecord(node, start) is not null)
        {
            After(StaleWindowStepMs, () => FollowStaleWindow(node, start));
            return;
        }

        StaleWindowsMs.Add(NowMs - _staleWindows[(node.Id, start)].OpenedMs);
        _staleWindows.Remove((node.Id, start));
    }

    // A record of the slice at start, on any node, newer than the one by which node may read it locally, and without it in sync.
    private (string Description, PieSlice Record)? StaleRecord(SimPlacementNode node, uint start)
    {
        PieSlice mine = node.View.Find(start);
        return node.CanReadLocally(mine) ? NewerRecordWithout(node, mine) : null;
    }

    // A record of any part of mine's range, on any node, newer than mine and without node in sync.
    private (string Description, PieSlice Record)? NewerRecordWithout(SimPlacementNode node, PieSlice mine)
    {
        // Records of any part of its range: a split moves halves on apart.
        foreach (SimPlacementNode other in _nodes.Values.OrderBy(n => n.Id))
        {
            SliceMap view = other.View;
            for (int i = view.IndexOf(mine.Range.Start); i < view.Count && view.Slices[i].Range.Start <= mine.Range.End; i++)
            {
                PieSlice theirs = view.Slices[i];
                bool newer = theirs.Range == mine.Range ? theirs.Supersedes(mine) : theirs.Epoch > mine.Epoch;
                if (newer && !theirs.IsInSync(node.Id))
                {
                    return ($"{other.Id} holds {theirs.Range.Start:x8} e{theirs.Epoch} [{string.Join(",", theirs.Replicas)}] in-sync [{string.Join(",", theirs.InSync)}] without it", theirs);
                }
            }
        }

        return null;
    }

    private static bool Overlap(SliceRange a, SliceRange b) => a.Start <= b.End && b.Start <= a.End;

    private SimPlacementNode NewNode()
    {
        NodeId id;
        do
        {
            id = new NodeId((ulong)Random.NextInt64(1, long.MaxValue));
        }
        while (_nodes.ContainsKey(id));

        // Each node's wall clock is off by up to a second, as NTP leaves machines.
        var node = new SimPlacementNode(this, id, Random.Next(-1_000, 1_001));
        _nodes[id] = node;
        return node;
    }

    /// <summary>Every way the cluster is not settled, empty when it is: equal views, every slice at rf in-sync replicas on running nodes, an even spread.</summary>
    public List<string> Unsettled()
    {
        var problems = new List<string>();
        List<SimPlacementNode> running = [.. Running];
        SliceMap map = running[0].View;
        problems.AddRange(running.Where(n => n.SteppingDown).Select(n => $"{n.Id} still steps down after a power loss"));
        foreach (SimPlacementNode node in running.Where(n => n.View.Digest != map.Digest || n.Nodes.Digest != running[0].Nodes.Digest))
        {
            // Each node forgets a record gone past the retention on its own clock (up to 2.5 s
            // apart with the probe tick): a record being forgotten just now may differ.
            List<NodeRecord> differing = [.. node.Nodes.Nodes.Except(running[0].Nodes.Nodes).Concat(running[0].Nodes.Nodes.Except(node.Nodes.Nodes))];
            if (node.View.Digest == map.Digest && differing.All(BeingForgotten))
            {
                continue;
            }

            problems.Add($"{node.Id}'s maps differ from {running[0].Id}'s (slices {(node.View.Digest == map.Digest ? "equal" : "differ")}; records {string.Join(", ", differing.Take(3))})");
        }

        foreach (SimPlacementNode node in _nodes.Values)
        {
            NodeState? seen = running[0].Nodes.Find(node.Id)?.State;
            if (node.Running ? seen != NodeState.Up : seen is not (NodeState.Down or NodeState.Left or null))
            {
                problems.Add($"{running[0].Id} sees {node.Id} {seen?.ToString() ?? "nowhere"}");
            }
        }

        int rf = Math.Min(ReplicationFactor, running.Count);
        var ids = running.Select(n => n.Id).ToHashSet();
        foreach (PieSlice slice in map.Slices)
        {
            if (slice.Replicas.Length != rf || slice.InSync.Length != rf || !slice.Replicas.All(ids.Contains))
            {
                problems.Add($"slice {slice.Range.Start:x8} e{slice.Epoch}: [{string.Join(",", slice.Replicas)}] in-sync [{string.Join(",", slice.InSync)}]");
            }
        }

        int total = map.Count * rf;
        foreach (NodeId id in ids)
        {
            int held = map.Slices.Count(s => s.IsHeldBy(id));
            if (held < total / ids.Count || held > (total + ids.Count - 1) / ids.Count)
            {
                problems.Add($"{id} holds {held} of {total} replicas over {ids.Count} nodes");
            }
        }

        return problems;
    }

    /// <summary>Some running node holds another running node Suspect (a false suspicion, refuted once the suspect hears of it).</summary>
    public bool SuspectsARunningNode() =>
        Running.Any(n => n.Nodes.Nodes.Any(r => r.State == NodeState.Suspect && _nodes.TryGetValue(r.Id, out SimPlacementNode? suspect) && suspect.Running));

    private bool BeingForgotten(NodeRecord record) =>
        record.GoneSinceMs > 0 && Math.Abs(WallEpochMs + NowMs - (record.GoneSinceMs + (long)Retention.TotalMilliseconds)) <= 3_000;

    public ImmutableArray<string> TraceTail(int lines) => [.. _trace.Skip(Math.Max(0, _trace.Count - lines))];
}

/// <summary>
/// What a simulation covers, by version: each version adds to the one before, and seeds pinned
/// in an earlier version replay in it (a new kind of change or operation draws from the seed's
/// random source, so it changes what every later draw gives).
/// </summary>
internal sealed record SimulationScope(int Version)
{
    /// <summary>Placement, membership, writes and reads; joins, crashes, restarts, graceful stops, a node cut off, the farm split in two.</summary>
    public static readonly SimulationScope First = new(1);

    /// <summary>Counters, and power losses.</summary>
    public static readonly SimulationScope Second = new(2);

    /// <summary>Splits while the data grows.</summary>
    public static readonly SimulationScope Third = new(3);

    /// <summary>Cuts of the link between two nodes only, decommissions, and compare-and-swap.</summary>
    public static readonly SimulationScope Fourth = new(4);

    /// <summary>Delta catch-ups from hints, anti-entropy, links cut one way only, and FsyncPolicy.Always with correlated power losses.</summary>
    public static readonly SimulationScope Fifth = new(5);

    /// <summary>
    /// GetOrAdd (claims, long polls, factories that fail, completions), and a forwarded request
    /// retried when the primary's process dies with it (its connection breaks), as ForwardAsync does.
    /// </summary>
    public static readonly SimulationScope Sixth = new(6);

    /// <summary>A power loss breaks no connection (no reset: requests wait out their deadlines); an answer may be lost with its connection while the primary runs on.</summary>
    public static readonly SimulationScope Seventh = new(7);

    /// <summary>A primary handing a slice over begins no write on it and waits for its writes in flight there.</summary>
    public static readonly SimulationScope Eighth = new(8);

    /// <summary>Sliding expiration: clients set, get and refresh keys with sliding windows; reads renew them, primaries expire them.</summary>
    public static readonly SimulationScope Ninth = new(9);

    /// <summary>Everything simulated today.</summary>
    public static readonly SimulationScope Full = Ninth;

    /// <summary>Clients increment counters.</summary>
    public bool Counters => Version >= 2;

    /// <summary>A change may be a power loss of a node's machine (unsynced writes lost).</summary>
    public bool PowerLoss => Version >= 2;

    /// <summary>The data grows during some changes, and primaries split slices that pass a keys threshold.</summary>
    public bool Splits => Version >= 3;

    /// <summary>A change may cut the link between two nodes only (each still reaching the others), or decommission a node.</summary>
    public bool LinkCutsAndDecommissions => Version >= 4;

    /// <summary>Clients compare-and-swap the registers' values they read.</summary>
    public bool CompareAndSwap => Version >= 4;

    /// <summary>
    /// Records carry hints and a returning replica with one gets a delta catch-up, then an
    /// anti-entropy pass; primaries run anti-entropy with their in-sync replicas every minute;
    /// a change may cut a link one way only (a node hears another that cannot hear it).
    /// </summary>
    public bool HintsAndAntiEntropy => Version >= 5;

    /// <summary>Clients get-or-add the registers: one caller claims and runs its factory, the others wait at the primary for its value.</summary>
    public bool GetOrAdd => Version >= 6;

    /// <summary>A request held by a primary whose process dies is retried by its sender (the connection broke), the same operation id with it.</summary>
    public bool RetryOnBrokenConnection => Version >= 6;

    /// <summary>
    /// A power loss breaks no connection (a machine without power sends no reset: its peers'
    /// requests wait out their deadlines), and one answer in two hundred is lost with its connection
    /// while the primary runs on (the sender retries, the same operation id with it).
    /// </summary>
    public bool ConnectionsBreakAlone => Version >= 7;

    /// <summary>A primary handing a slice over begins no write on it, and commits once its writes in flight there ended (seed 2711 of scope 7 without it: an increment answered twice).</summary>
    public bool HandOverFence => Version >= 8;

    /// <summary>Clients also set, get and refresh keys with sliding windows of 0.5 to 12 s (see <see cref="SlidingWorkload"/>).</summary>
    public bool SlidingExpiry => Version >= 9;
}
