using System.Collections.Immutable;
using System.Globalization;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Tests.Consistency;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>One client operation on a key, as the client saw it (and, for the checks, the version it wrote or read).</summary>
internal sealed class DataOperation(string key, NodeId at, RegisterOperationKind kind, string? value, long invokedAt)
{
    public string Key => key;

    public NodeId At => at;

    public RegisterOperationKind Kind => kind;

    /// <summary>The value written (null: a Remove), or the value read (null: absent).</summary>
    public string? Value { get; set; } = value;

    public long InvokedAt => invokedAt;

    /// <summary>When it completed; null while it runs, or if it failed (a write then is in doubt).</summary>
    public long? CompletedAt { get; set; }

    /// <summary>The version the primary gave the write, or of the value read (0: nothing there).</summary>
    public long Version { get; set; }

    public NodeId Answerer { get; set; }

    /// <summary>The epoch of the slice record a write was acknowledged under.</summary>
    public long Epoch { get; set; }

    /// <summary>The nodes that held a write when it was acknowledged.</summary>
    public IReadOnlySet<NodeId> Holders { get; set; } = new HashSet<NodeId>();

    /// <summary>A compare-and-swap's expected value (null: absent), as the client read it.</summary>
    public string? Expected { get; init; }

    /// <summary>Whether a compare-and-swap that completed swapped.</summary>
    public bool Swapped { get; set; }


    /// <summary>A write, or a compare-and-swap that may have swapped (in doubt, or acknowledged as swapped).</summary>
    public bool Writes => kind switch
    {
        RegisterOperationKind.Write => true,
        RegisterOperationKind.CompareAndSwap => CompletedAt is null || Swapped,
        // A get-or-add that may have added its value (in doubt), or that returned it: values are unique.
        RegisterOperationKind.GetOrAdd => CompletedAt is null || Value == Expected,
        _ => false,
    };

    public RegisterOperation ToRegister() => kind switch
    {
        RegisterOperationKind.Write => RegisterOperation.Write(at.ToString(), Value, invokedAt, CompletedAt),
        RegisterOperationKind.CompareAndSwap => RegisterOperation.Cas(at.ToString(), Expected, Value, Swapped, invokedAt, CompletedAt),
        RegisterOperationKind.GetOrAdd => RegisterOperation.GetOrAdd(at.ToString(), Expected!, Value, invokedAt, CompletedAt),
        _ => RegisterOperation.Read(at.ToString(), Value, invokedAt, CompletedAt!.Value),
    };

    public override string ToString() =>
        $"[{invokedAt} .. {CompletedAt?.ToString(CultureInfo.InvariantCulture) ?? "?"}] {kind switch
        {
            RegisterOperationKind.Write => Value is null ? "remove" : $"write {Value}",
            RegisterOperationKind.CompareAndSwap => $"cas({Expected ?? "absent"} -> {Value}) -> {(CompletedAt is null ? "?" : Swapped ? "swapped" : "not swapped")}",
            RegisterOperationKind.GetOrAdd => $"get-or-add({Expected}) -> {(CompletedAt is null ? "?" : Value)}",
            _ => $"read -> {Value ?? "absent"}",
        }} of {key} at {at} (v{Version}{(Answerer == default ? "" : $" by {Answerer}")})";
}

/// <summary>One increment of a counter, as the client saw it.</summary>
internal sealed class IncrementOperation(string key, ulong operation, long invokedAt)
{
    public string Key => key;

    public ulong Operation => operation;

    public long InvokedAt => invokedAt;

    /// <summary>When it was acknowledged; null while it runs, or if it failed (then it is in doubt).</summary>
    public long? CompletedAt { get; set; }

    /// <summary>The counter's value after it, as answered.</summary>
    public long Answer { get; set; }

    public DataReply? Reply { get; set; }

    /// <summary>
    /// Lost to a stale takeover (the known gap): a takeover, since it was invoked, from a record
    /// older than the one it was acknowledged under, by a node that did not hold it.
    /// </summary>
    public bool LostToStaleTakeover(PlacementSimulation sim) =>
        CompletedAt is not null && Reply is { } reply && sim.LostToStaleTakeover(KeyHash.Of(key), reply.Epoch, invokedAt, reply.Holders ?? new HashSet<NodeId>());

    public override string ToString() => $"[{invokedAt} .. {CompletedAt?.ToString(CultureInfo.InvariantCulture) ?? "?"}] increment #{operation} of {key} -> {(CompletedAt is null ? "?" : Answer.ToString(CultureInfo.InvariantCulture))}{(Reply is null ? "" : $" by {Reply.Answerer} at e{Reply.Epoch}")}";
}

/// <summary>
/// Clients behind a load balancer: every 50 to 350 ms one of them sets, removes or gets one of a
/// few keys at a random node that takes clients, and every operation's invocation, completion
/// and result is recorded; one operation in ten writes a key of its own, written once, and one
/// in ten reads such a key. Checked: a read never returns a version older than a write
/// acknowledged before it began (a stale read, unless the node that answered was in a window
/// across a takeover: the known gap); once placement settles, every in-sync replica of each key
/// holds its last acknowledged write (nothing acknowledged lost). Measured: keys whose history
/// is not linearizable (issue 18: a read may see a write still in flight, then another read an older value).
/// One operation in about twelve is a GetOrAdd of a register (its factory's value unique): one
/// that returns its own value counts as an acknowledged write, one that returns another as a read.
/// With <paramref name="counters"/>, every 100 to 400 ms a client also increments one of two
/// counters (a retry sends the same operation id, as the node's forwarding does); checked: no
/// two increments of a counter get the same answer, and once placement settles every in-sync
/// replica holds a value v with acknowledged ≤ v ≤ acknowledged + in doubt, and no smaller
/// than any answer given (counters exact).
/// </summary>
internal sealed class DataWorkload(PlacementSimulation sim, bool counters)
{
    private static readonly string[] Keys = ["k0", "k1", "k2", "k3", "k4", "k5"];
    private static readonly string[] CounterKeys = ["c0", "c1"];
    private readonly Dictionary<string, List<IncrementOperation>> _increments = CounterKeys.ToDictionary(k => k, _ => new List<IncrementOperation>(), StringComparer.Ordinal);
    private readonly Dictionary<(string Key, long Answer), IncrementOperation> _answersGiven = [];
    private readonly Dictionary<(string Key, long ExpectedVersion), DataOperation> _swapsOf = [];
    private ulong _operations;

    private readonly Dictionary<string, List<DataOperation>> _history = Keys.ToDictionary(k => k, _ => new List<DataOperation>(), StringComparer.Ordinal);
    // Per key, its acknowledged writes in the order they completed, each with the one of the
    // highest version so far: what a read must not be older than is a binary search away.
    private readonly Dictionary<string, List<(long CompletedAt, DataOperation Newest)>> _acknowledged = new(StringComparer.Ordinal);

    // Keys written once each: a write lost is never hidden by a later one.
    private readonly List<string> _onceKeys = [];
    private int _values;

    public int Acknowledged { get; private set; }

    public int InDoubt => InDoubtWrites.Count();

    /// <summary>Writes that failed or never completed.</summary>
    public IEnumerable<DataOperation> InDoubtWrites => _history.Values.SelectMany(h => h).Where(o => o.Writes && o.CompletedAt is null).OrderBy(o => o.InvokedAt);

    /// <summary>Compare-and-swaps acknowledged, and how many of them swapped.</summary>
    public (int Acknowledged, int Swapped) CompareAndSwaps => (
        _history.Values.Sum(h => h.Count(o => o.Kind == RegisterOperationKind.CompareAndSwap && o.CompletedAt is not null)),
        _history.Values.Sum(h => h.Count(o => o.Kind == RegisterOperationKind.CompareAndSwap && o.Swapped)));

    public int Reads { get; private set; }

    /// <summary>GetOrAdds invoked, and those acknowledged that added their caller's value.</summary>
    public int GetOrAdds { get; private set; }

    public int GetOrAddsThatAdded { get; private set; }

    /// <summary>GetOrAdd factories run (claims given), and those that began while another of the same key ran (a flight lost with its primary, or lapsed).</summary>
    public int Factories { get; private set; }

    public int FactoriesOverlapping { get; private set; }

    private readonly Dictionary<string, int> _factoriesRunning = new(StringComparer.Ordinal);

    /// <summary>A caller's factory of <paramref name="key"/> begins; the returned action says it ended.</summary>
    public Action FactoryBegins(string key)
    {
        Factories++;
        int running = _factoriesRunning.GetValueOrDefault(key);
        if (running > 0)
        {
            FactoriesOverlapping++;
            sim.Note($"a second factory of {key} runs ({running} already)");
        }

        _factoriesRunning[key] = running + 1;
        return () => _factoriesRunning[key]--;
    }

    /// <summary>Reads that returned a value older than an acknowledged write, answered within a known window across a takeover, or missing a write lost to a stale takeover.</summary>
    public int StaleReadsAcrossTakeover { get; private set; }

    /// <summary>Acknowledged writes found missing on an in-sync replica once placement settled, no known gap explaining it (none should be).</summary>
    public List<string> LostWrites { get; } = [];

    /// <summary>
    /// Acknowledged writes found missing once placement settled, after a later takeover, by a node
    /// that did not hold them, from a record older than the one they were acknowledged under (the
    /// known gap of a takeover that missed the primary's last records, see ARCHITECTURE).
    /// </summary>
    public List<string> LostAcrossStaleTakeover { get; } = [];

    public int IncrementsAcknowledged => _increments.Values.Sum(h => h.Count(o => o.CompletedAt is not null));

    public int IncrementsInDoubt => _increments.Values.Sum(h => h.Count(o => o.CompletedAt is null));

    public void Start()
    {
        sim.After(sim.Random.Next(50, 350), Next);
        if (counters)
        {
            sim.After(sim.Random.Next(100, 400), NextIncrement);
        }
    }

    /// <summary>The clients stop (operations under way go on to their end).</summary>
    public void Stop() => _stopped = true;

    private bool _stopped;

    /// <summary>
    /// The first key whose running in-sync replicas hold different versions or values of it (a
    /// tombstone and nothing both count as absent; versions of two primaries' clocks may be
    /// equal), or null when they all agree.
    /// </summary>
    public string? Disagreement()
    {
        SliceMap map = sim.Running.First().View;
        foreach (string key in _history.Keys.Concat(CounterKeys))
        {
            PieSlice slice = map.Find(KeyHash.Of(key));
            var held = slice.InSync.Select(sim.Find).OfType<SimPlacementNode>().Where(n => n.Running)
                .Select(n => (n.Id, Held: n.Stored(key) is { Value: { } text } value ? (value.Version, text) : (0, null))).ToList();
            if (held.Select(h => h.Held).Distinct().Count() > 1)
            {
                string disagreement = $"at {sim.NowMs} ms, after anti-entropy: the in-sync replicas of {key} ({slice.Range.Start:x8} e{slice.Epoch}) disagree: {string.Join(", ", held.Select(h => $"{h.Id} v{h.Held.Item1} {h.Held.Item2 ?? "absent"}"))}";
                sim.Note($"REPLICAS DISAGREE: {disagreement}");
                return disagreement;
            }
        }

        return null;
    }

    private void NextIncrement()
    {
        if (_stopped)
        {
            return;
        }

        sim.After(sim.Random.Next(100, 400), NextIncrement);
        List<SimPlacementNode> nodes = [.. sim.Running.Where(n => n.TakesClients)];
        if (nodes.Count == 0)
        {
            return;
        }

        SimPlacementNode node = nodes[sim.Random.Next(nodes.Count)];
        string key = CounterKeys[sim.Random.Next(CounterKeys.Length)];
        var op = new IncrementOperation(key, ++_operations, sim.NowMs);
        _increments[key].Add(op);
        node.Increment(key, op.Operation, reply =>
        {
            if (reply is null)
            {
                return;
            }

            op.CompletedAt = sim.NowMs;
            op.Answer = long.Parse(reply.Value!, CultureInfo.InvariantCulture);
            op.Reply = reply;
            if (_answersGiven.TryGetValue((key, op.Answer), out IncrementOperation? other))
            {
                // An acknowledged increment lost to a stale takeover (the known gap) leaves its
                // answer to be given again by the primary that took the slice over.
                bool known = (op.LostToStaleTakeover(sim) || other.LostToStaleTakeover(sim)) && op.Reply.Answerer != other.Reply!.Answerer;
                string twice = $"at {sim.NowMs} ms, after {sim.Phase}: {key} answered {op.Answer} twice: {other}; {op}";
                sim.Note($"ANSWER GIVEN TWICE{(known ? " across a stale takeover" : "")}: {twice}");
                (known ? LostAcrossStaleTakeover : LostWrites).Add(twice);
            }

            _answersGiven.TryAdd((key, op.Answer), op);
        });
    }

    /// <summary>A new operation id (a client's retries repeat the one they were given).</summary>
    public ulong NextOperationId() => ++_operations;

    /// <summary>A primary applied an increment its counter's value already counts (the value's ghost list says so).</summary>
    public void AppliedTwice(string what)
    {
        sim.Note($"APPLIED TWICE: {what}");
        LostWrites.Add(what);
    }

    /// <summary>Once placement settled: every running in-sync replica of each counter holds a value that counts every acknowledged increment, and no more than were tried.</summary>
    public void CheckCounters()
    {
        SliceMap map = sim.Running.First().View;
        foreach ((string key, List<IncrementOperation> history) in _increments)
        {
            List<IncrementOperation> acknowledged = [.. history.Where(o => o.CompletedAt is not null)];
            if (acknowledged.Count == 0)
            {
                continue;
            }

            IncrementOperation highest = acknowledged.MaxBy(o => o.Answer)!;
            long tried = history.Count;
            PieSlice slice = map.Find(KeyHash.Of(key));
            foreach (NodeId replica in slice.InSync)
            {
                if (sim.Find(replica) is not { Running: true } node)
                {
                    continue;
                }

                long value = node.Stored(key)?.Value is { } text ? long.Parse(text, CultureInfo.InvariantCulture) : 0;
                ImmutableHashSet<ulong> counted = node.Stored(key)?.Applied ?? [];
                if (value >= highest.Answer && value <= tried && acknowledged.All(o => counted.Contains(o.Operation)))
                {
                    continue;
                }

                IncrementOperation? uncounted = acknowledged.FirstOrDefault(o => !counted.Contains(o.Operation));
                string wrong = $"at {sim.NowMs} ms, after {sim.Phase}: in-sync replica {replica} holds {key} = {value}, with {acknowledged.Count} increments acknowledged (highest answer {highest}) and {tried - acknowledged.Count} in doubt"
                    + (uncounted is null ? "" : $"; it does not count {uncounted}");
                // Missing increments all applied across a takeover (never more than were tried).
                List<IncrementOperation> uncountedAll = [.. acknowledged.Where(o => !counted.Contains(o.Operation))];
                bool known = (value < highest.Answer && highest.Reply is { } reply
                        && sim.LostToStaleTakeover(KeyHash.Of(key), reply.Epoch, highest.InvokedAt, reply.Holders ?? new HashSet<NodeId>()))
                    || (value <= tried && uncountedAll.Count > 0 && uncountedAll.TrueForAll(o => o.LostToStaleTakeover(sim)));
                sim.Note($"COUNTER WRONG{(known ? " across a stale takeover" : "")}: {wrong}");
                (known ? LostAcrossStaleTakeover : LostWrites).Add(wrong);
                break;
            }
        }
    }

    private void Next()
    {
        if (_stopped)
        {
            return;
        }

        sim.After(sim.Random.Next(50, 350), Next);
        List<SimPlacementNode> nodes = [.. sim.Running.Where(n => n.TakesClients)];
        if (nodes.Count == 0)
        {
            return;
        }

        SimPlacementNode node = nodes[sim.Random.Next(nodes.Count)];
        string key = Keys[sim.Random.Next(Keys.Length)];
        int roll = sim.Random.Next(100);
        if (roll < 10)
        {
            key = $"u{_onceKeys.Count}";
            _onceKeys.Add(key);
            _history[key] = [];
        }
        else if (roll >= 90 && _onceKeys.Count > 0)
        {
            key = _onceKeys[sim.Random.Next(_onceKeys.Count)];
        }

        if (roll < 55)
        {
            string? value = roll < 45 ? $"v{++_values}" : null;
            var op = new DataOperation(key, node.Id, RegisterOperationKind.Write, value, sim.NowMs);
            _history[key].Add(op);
            node.Write(key, value, reply =>
            {
                if (reply is not null)
                {
                    Acknowledge(op, reply);
                }
            });
        }
        else if (sim.Scope.CompareAndSwap && roll < 65 && roll >= 55)
        {
            // Read, then swap what was read for a new value, at another node maybe.
            long readAt = sim.NowMs;
            node.Read(key, read =>
            {
                if (read is null)
                {
                    return;
                }

                var readOp = new DataOperation(key, node.Id, RegisterOperationKind.Read, read.Value, readAt) { CompletedAt = sim.NowMs, Version = read.Version, Answerer = read.Answerer };
                _history[key].Add(readOp);
                Reads++;
                CheckRead(readOp);
                List<SimPlacementNode> now = [.. sim.Running.Where(n => n.TakesClients)];
                if (now.Count == 0)
                {
                    return;
                }

                SimPlacementNode swapper = now[sim.Random.Next(now.Count)];
                long expectedVersion = read.Value is null ? 0 : read.Version;
                var op = new DataOperation(key, swapper.Id, RegisterOperationKind.CompareAndSwap, $"v{++_values}", sim.NowMs) { Expected = read.Value };
                _history[key].Add(op);
                // As GetVersionedAsync: an absent key reads as version 0, whatever tombstone it has.
                swapper.CompareAndSwap(key, expectedVersion, op.Value!, ++_operations, reply =>
                {
                    if (reply is null)
                    {
                        return;
                    }

                    op.Swapped = reply.Value == "swapped";
                    if (op.Swapped)
                    {
                        // Versions are unique: two swaps of one version read means one of them swapped
                        // a version already gone. (A value may come back at a new version: a Set's
                        // retry applies it again, issue 18.)
                        if (expectedVersion != 0 && !_swapsOf.TryAdd((key, expectedVersion), op))
                        {
                            DataOperation first = _swapsOf[(key, expectedVersion)];
                            bool known = (first.CompletedAt is not null && sim.LostToStaleTakeover(KeyHash.Of(key), first.Epoch, first.InvokedAt, first.Holders))
                                || sim.LostToStaleTakeover(KeyHash.Of(key), reply.Epoch, op.InvokedAt, reply.Holders ?? new HashSet<NodeId>());
                            string twice = $"at {sim.NowMs} ms, after {sim.Phase}: {first} and {op} both swapped {op.Expected} at v{expectedVersion}";
                            sim.Note($"SWAPPED TWICE{(known ? " across a stale takeover" : "")}: {twice}");
                            (known ? LostAcrossStaleTakeover : LostWrites).Add(twice);
                        }

                        Acknowledge(op, reply);
                    }
                    else
                    {
                        op.CompletedAt = sim.NowMs;
                        op.Version = reply.Version;
                        op.Answerer = reply.Answerer;
                    }
                });
            });
        }
        else if (sim.Scope.GetOrAdd && roll >= 65 && roll < 73)
        {
            var op = new DataOperation(key, node.Id, RegisterOperationKind.GetOrAdd, null, sim.NowMs) { Expected = $"v{++_values}" };
            _history[key].Add(op);
            GetOrAdds++;
            node.GetOrAdd(key, op.Expected, ++_operations, () => _stopped, reply =>
            {
                if (reply is null)
                {
                    return;
                }

                op.Value = reply.Value;
                if (op.Value == op.Expected)
                {
                    GetOrAddsThatAdded++;
                    Acknowledge(op, reply);
                    return;
                }

                op.CompletedAt = sim.NowMs;
                op.Version = reply.Version;
                op.Answerer = reply.Answerer;
                Reads++;
                CheckRead(op);
            });
        }
        else
        {
            var op = new DataOperation(key, node.Id, RegisterOperationKind.Read, null, sim.NowMs);
            node.Read(key, reply =>
            {
                if (reply is not null)
                {
                    op.CompletedAt = sim.NowMs;
                    op.Value = reply.Value;
                    op.Version = reply.Version;
                    op.Answerer = reply.Answerer;
                    _history[key].Add(op);
                    Reads++;
                    CheckRead(op);
                }
            });
        }
    }

    private void Acknowledge(DataOperation op, DataReply reply)
    {
        op.CompletedAt = sim.NowMs;
        op.Version = reply.Version;
        op.Answerer = reply.Answerer;
        op.Epoch = reply.Epoch;
        op.Holders = reply.Holders ?? new HashSet<NodeId>();
        Acknowledged++;
        if (!_acknowledged.TryGetValue(op.Key, out var acknowledged))
        {
            _acknowledged[op.Key] = acknowledged = [];
        }

        acknowledged.Add((sim.NowMs, acknowledged.Count > 0 && acknowledged[^1].Newest.Version > op.Version ? acknowledged[^1].Newest : op));
    }

    // A read returns no version older than a write acknowledged before the read began.
    private void CheckRead(DataOperation read)
    {
        if (!_acknowledged.TryGetValue(read.Key, out var acknowledged))
        {
            return;
        }

        // The last write that completed before the read began.
        int lo = 0, hi = acknowledged.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            if (acknowledged[mid].CompletedAt < read.InvokedAt)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        if (found < 0 || acknowledged[found].Newest.Version <= read.Version)
        {
            return;
        }

        DataOperation newer = acknowledged[found].Newest;

        uint start = sim.Find(read.Answerer)!.View.Find(KeyHash.Of(read.Key)).Range.Start;
        if (sim.InStaleWindowAcrossTakeover(read.Answerer, start)
            || sim.LostToStaleTakeover(KeyHash.Of(read.Key), newer.Epoch, newer.CompletedAt!.Value, newer.Holders))
        {
            StaleReadsAcrossTakeover++;
            sim.Note($"stale read across a takeover: {read}, answered by {read.Answerer}, after {newer}");
            return;
        }

        string stale = $"at {sim.NowMs} ms, after {sim.Phase}: {read}, answered by {read.Answerer}, though {newer} was acknowledged before it began";
        sim.Note($"STALE READ: {stale}");
        sim.StaleReads.Add(stale);
    }

    /// <summary>Once placement settled: every running in-sync replica of each key's slice holds the key's last acknowledged write, or a newer one.</summary>
    public void CheckNothingAcknowledgedLost()
    {
        SliceMap map = sim.Running.First().View;
        foreach ((string key, List<DataOperation> history) in _history)
        {
            if (history.Where(o => o.Writes && o.CompletedAt is not null).MaxBy(o => o.Version) is not { } last)
            {
                continue;
            }

            PieSlice slice = map.Find(KeyHash.Of(key));
            foreach (NodeId replica in slice.InSync)
            {
                if (sim.Find(replica) is { Running: true } node && (node.Stored(key)?.Version ?? 0) < last.Version)
                {
                    string lost = $"at {sim.NowMs} ms, after {sim.Phase}: in-sync replica {replica} holds {key} at v{node.Stored(key)?.Version ?? 0}, without {last} (acknowledged at e{last.Epoch})";
                    bool known = sim.LostToStaleTakeover(KeyHash.Of(key), last.Epoch, last.CompletedAt!.Value, last.Holders);
                    sim.Note($"LOST WRITE{(known ? " across a stale takeover" : "")}: {lost}");
                    (known ? LostAcrossStaleTakeover : LostWrites).Add(lost);
                    break;
                }
            }
        }
    }

    /// <summary>Each key's history through the register checker: keys found not linearizable, and keys the search gave up on.</summary>
    public (int NotLinearizable, int Inconclusive, string? FirstExplanation) CheckLinearizable(long stepLimit = 50_000)
    {
        int bad = 0;
        int inconclusive = 0;
        string? first = null;
        foreach (string key in Keys)
        {
            List<DataOperation> history = _history[key];
            LinearizabilityResult result = LinearizabilityChecker.CheckRegister([.. history.Select(o => o.ToRegister())], stepLimit: stepLimit);
            if (result.Verdict == Linearizability.NotLinearizable)
            {
                bad++;
                first ??= $"{key}: {result.Explanation}";
            }
            else if (result.Verdict == Linearizability.Inconclusive)
            {
                inconclusive++;
            }
        }

        return (bad, inconclusive, first);
    }
}
