using System.Collections.Concurrent;
using SmdSs.Transport;

namespace SmdSs.Tests.Support;

/// <summary>
/// The simulated network between the nodes of an <see cref="InProcessCluster"/>: every node's
/// transport is wrapped (<see cref="Wrap"/>) and asks this object what happens to each message.
/// The current <see cref="LinkFaults"/> apply to every link; a partition cuts a set of nodes off
/// from the others both ways. Each link (sender, receiver) draws from its own
/// <see cref="Random"/> seeded from the test's seed, so the faults are a seeded schedule (the
/// thread interleaving, and so which message meets which draw, is not replayed exactly).
/// A node marked crashed (<see cref="Crash"/>) sends and answers nothing, as a killed process:
/// an in-process crash cannot kill the tasks the node had running, and these must not reach the
/// cluster; its next start gets a new transport that works again.
/// </summary>
internal sealed class ChaosNetwork(int seed)
{
    private readonly ConcurrentDictionary<string, (int Node, int Life)> _nodeAt = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<int, int> _lives = new();
    private readonly ConcurrentDictionary<(int From, int To), Link> _links = new();
    private volatile LinkFaults _faults = LinkFaults.None;
    private volatile HashSet<int> _isolated = [];

    public ChaosCounters Counters { get; } = new();

    public LinkFaults Faults
    {
        get => _faults;
        set => _faults = value;
    }

    /// <summary>The nodes cut off from the rest (both ways); empty when there is no partition.</summary>
    public IReadOnlySet<int> Isolated => _isolated;

    /// <summary>The transport decorator for <see cref="InProcessCluster.DecorateTransport"/> (the node's index, its real transport).</summary>
    public IPeerTransport Wrap(int node, IPeerTransport inner) => new ChaosTransport(this, node, LifeOf(node), inner);

    /// <summary>Tells the network where node <paramref name="node"/> listens (again after every start: the port changes).</summary>
    public void Register(int node, string endpoint) => _nodeAt[endpoint] = (node, LifeOf(node));

    /// <summary>Cuts the running instance of <paramref name="node"/> off for good (call it before crashing the node).</summary>
    public void Crash(int node) => _lives.AddOrUpdate(node, 1, (_, life) => life + 1);

    /// <summary>Which start of the node this is: a transport or an endpoint of an earlier one belongs to a crashed instance.</summary>
    public int LifeOf(int node) => _lives.GetValueOrDefault(node);

    public void Partition(IEnumerable<int> isolated) => _isolated = [.. isolated];

    /// <summary>No faults and no partition from now on (messages already held finish their hold).</summary>
    public void Heal()
    {
        _faults = LinkFaults.None;
        _isolated = [];
    }

    public bool TryFindNode(string endpoint, out int node, out int life)
    {
        bool found = _nodeAt.TryGetValue(endpoint, out (int Node, int Life) at);
        (node, life) = at;
        return found;
    }

    public bool IsCut(int from, int to)
    {
        HashSet<int> isolated = _isolated;
        return isolated.Contains(from) != isolated.Contains(to);
    }

    public Link LinkOf(int from, int to) => _links.GetOrAdd((from, to), key => new Link(new Random(unchecked((seed * 7919) + (key.From * 131) + key.To))));

    /// <summary>What happens to one message on one link.</summary>
    public FaultDecision Decide(int from, int to)
    {
        LinkFaults faults = _faults;
        if (ReferenceEquals(faults, LinkFaults.None))
        {
            return default;
        }

        return LinkOf(from, to).Draw(faults);
    }

    /// <summary>One direction between two nodes: its random draws, and the signal that a message went through (for reordering).</summary>
    internal sealed class Link(Random random)
    {
        private TaskCompletionSource _passed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the next message on this link is handed to the real transport.</summary>
        public Task NextPassed => Volatile.Read(ref _passed).Task;

        public void Passed() => Interlocked.Exchange(ref _passed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

        public FaultDecision Draw(LinkFaults faults)
        {
            lock (random)
            {
                // Every draw is taken whatever the rates, so one fault's rate does not shift the others' draws.
                bool drop = random.NextDouble() < faults.Drop;
                bool delay = random.NextDouble() < faults.Delay;
                TimeSpan delayBy = faults.MaxDelay * random.NextDouble();
                bool replyDelay = random.NextDouble() < faults.ReplyDelay;
                TimeSpan replyDelayBy = faults.MaxDelay * random.NextDouble();
                bool duplicate = random.NextDouble() < faults.Duplicate;
                bool reorder = random.NextDouble() < faults.Reorder;
                return new FaultDecision(drop, delay ? delayBy : TimeSpan.Zero, replyDelay ? replyDelayBy : TimeSpan.Zero, duplicate, reorder);
            }
        }
    }
}

/// <summary>The faults one message meets.</summary>
internal readonly record struct FaultDecision(bool Drop, TimeSpan Delay, TimeSpan ReplyDelay, bool Duplicate, bool Reorder);
