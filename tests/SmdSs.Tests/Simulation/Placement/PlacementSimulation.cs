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
/// lost. Membership news reaches each node after its own delay. The same seed gives the same
/// trace.
/// </summary>
internal sealed class PlacementSimulation
{
    public const int RoundMs = 500;
    public const int GossipMs = 200;
    public const int LeaseMs = 2_000;
    public const int GraceMs = 60_000;
    public const int DetectionMs = 4_000;

    private readonly PriorityQueue<Action, (long At, long Sequence)> _events = new();
    private readonly Dictionary<NodeId, SimPlacementNode> _nodes = [];
    private readonly List<string> _trace = [];
    private long _sequence;

    public PlacementSimulation(int seed, int sliceCount = 16, int replicationFactor = 3)
    {
        Seed = seed;
        Random = new Random(seed);
        SliceCount = sliceCount;
        ReplicationFactor = replicationFactor;
    }

    public int Seed { get; }

    public Random Random { get; }

    public int SliceCount { get; }

    public int ReplicationFactor { get; }

    public long NowMs { get; private set; }

    public long LastCommitMs { get; private set; }

    public int Commits { get; private set; }

    /// <summary>Membership news not yet heard by every node: nothing is settled before it is.</summary>
    public int NewsInFlight { get; private set; }

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

    public void RunUntil(long endMs)
    {
        while (_events.TryPeek(out _, out var when) && when.At <= endMs)
        {
            _events.Dequeue().Invoke();
            NowMs = Math.Max(NowMs, when.At);
        }

        NowMs = endMs;
    }

    /// <summary>The first node: it starts alone with the initial map, every slice its own.</summary>
    public SimPlacementNode Bootstrap()
    {
        var node = NewNode();
        node.Start(SliceMap.CreateInitial(SliceCount, [node.Id]));
        foreach (SimPlacementNode other in _nodes.Values.Where(n => n != node))
        {
            other.Learn(Record(node.Id, NodeState.Up, node.Incarnation, 0));
        }

        return node;
    }

    /// <summary>A new node: it learns the map from a running node and every node hears of it after its own delay.</summary>
    public SimPlacementNode Join()
    {
        var node = NewNode();
        SimPlacementNode friend = Running.ElementAt(Random.Next(Running.Count()));
        foreach (SimPlacementNode other in _nodes.Values.Where(n => n != node))
        {
            node.Learn(other.Running ? Record(other.Id, NodeState.Up, other.Incarnation, 0) : Record(other.Id, NodeState.Down, other.Incarnation, other.StoppedAtMs + DetectionMs));
        }

        node.Start(friend.View);
        Announce(node.Id, NodeState.Up, maxDelayMs: 1_500);
        Note($"{node.Id} joins");
        return node;
    }

    /// <summary>Kill -9: the node stops at once; others see it Down after the failure detection timeout.</summary>
    public void Crash(SimPlacementNode node)
    {
        node.Stop();
        Announce(node.Id, NodeState.Down, minDelayMs: DetectionMs, maxDelayMs: DetectionMs + 2_000);
        Note($"{node.Id} crashes");
    }

    /// <summary>A restart on its files: the map it saved, a higher incarnation, Up again.</summary>
    public void Restart(SimPlacementNode node)
    {
        node.Start(node.View);
        Announce(node.Id, NodeState.Up, maxDelayMs: 1_500);
        Note($"{node.Id} restarts");
    }

    public void Committed(SimPlacementNode node, SliceChange change)
    {
        Commits++;
        LastCommitMs = NowMs;
        PieSlice next = change.Next;
        Note($"{node.Id} commits {next.Range.Start:x8} e{next.Epoch} [{string.Join(",", next.Replicas)}] in-sync [{string.Join(",", next.InSync)}] ({change.Reason})");
    }

    /// <summary>A message that arrives after a few milliseconds, or (one in twenty) never.</summary>
    public void Send(SimPlacementNode to, Action<SimPlacementNode> deliver)
    {
        if (Random.Next(20) == 0)
        {
            return;
        }

        long incarnation = to.Incarnation;
        After(Random.Next(1, 30), () =>
        {
            if (to.Running && to.Incarnation == incarnation)
            {
                deliver(to);
            }
        });
    }

    public SimPlacementNode? Find(NodeId id) => _nodes.GetValueOrDefault(id);

    /// <summary>A node record as gossip carries it: only the fields placement reads matter here.</summary>
    public static NodeRecord Record(NodeId id, NodeState state, long incarnation, long goneSinceMs) =>
        new(id, "sim", state, incarnation, Heartbeat: 0, Load: 0, goneSinceMs);

    private SimPlacementNode NewNode()
    {
        NodeId id;
        do
        {
            id = new NodeId((ulong)Random.NextInt64(1, long.MaxValue));
        }
        while (_nodes.ContainsKey(id));

        var node = new SimPlacementNode(this, id);
        _nodes[id] = node;
        return node;
    }

    private void Announce(NodeId id, NodeState state, long minDelayMs = 0, long maxDelayMs = 0)
    {
        long incarnation = _nodes[id].Incarnation;
        long goneSinceMs = state == NodeState.Down ? NowMs + DetectionMs : 0;
        foreach (SimPlacementNode other in _nodes.Values.Where(n => n.Id != id))
        {
            NewsInFlight++;
            After(Random.NextInt64(minDelayMs, maxDelayMs + 1), () =>
            {
                NewsInFlight--;
                other.Learn(Record(id, state, incarnation, goneSinceMs));
            });
        }
    }

    /// <summary>Every way the cluster is not settled, empty when it is: equal views, every slice at rf in-sync replicas on running nodes, an even spread.</summary>
    public List<string> Unsettled()
    {
        var problems = new List<string>();
        List<SimPlacementNode> running = [.. Running];
        SliceMap map = running[0].View;
        foreach (SimPlacementNode node in running.Where(n => n.View.Digest != map.Digest))
        {
            problems.Add($"{node.Id}'s map differs from {running[0].Id}'s");
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

    public ImmutableArray<string> TraceTail(int lines) => [.. _trace.Skip(Math.Max(0, _trace.Count - lines))];
}
