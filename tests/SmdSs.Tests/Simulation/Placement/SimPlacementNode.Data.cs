using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using SmdSs.Compute;
using SmdSs.Core;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Placement;
using SmdSs.Protocol;
using SmdSs.Replication;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>
/// A value as a node stores it: its version, null for a tombstone, and for a counter the answers
/// of the increments its value holds that may not have reached every replica yet (written into
/// the record, as <c>RecordAnswers</c> does, so that they outlive a restart).
/// </summary>
/// <remarks>
/// <see cref="Applied"/> is the simulation's own ghost record of a counter: the increments its
/// value counts, carried with it wherever it goes, so that one applied twice or lost is seen
/// though the counts happen to add up.
/// A value with a sliding window (<see cref="SlidingMs"/>) holds the deadline its Put record
/// carries, and <see cref="TouchedMs"/> the latest deadline a Touch record wrote after it (a
/// restart's deadline; what the primary is known to hold is the Put's).
/// </remarks>
internal readonly record struct StoredValue(
    long Version, string? Value, ImmutableArray<OperationAnswer> Answers = default, ImmutableHashSet<ulong>? Applied = null, long SlidingMs = 0, long DeadlineMs = 0, long TouchedMs = 0);

/// <summary>How a primary answered a forwarded operation.</summary>
internal enum DataError
{
    None,
    NotPrimary,
    Unavailable,
}

/// <summary>
/// An answer to a client's operation: the version written or read (0: nothing there), the value,
/// the node that answered it, and for a write the epoch of the record it was acknowledged under;
/// for a GetOrAdd's claim, its outcome and the claim's token.
/// </summary>
internal sealed record DataReply(
    DataError Error, long Version = 0, string? Value = null, NodeId Answerer = default, long Epoch = 0, IReadOnlySet<NodeId>? Holders = null, ClaimOutcome Claim = ClaimOutcome.Found, long Token = 0);

/// <summary>
/// The data path of one node, as <c>SmdSsNode</c> runs it, in virtual time: writes go to the
/// key's primary (forwarded and retried until the request timeout while the map settles), which
/// versions them with the hybrid clock, applies them, sends them to every replica and decides
/// through the real <see cref="WriteReplication"/> (a replica that fails leaves the in-sync set
/// after its lease; the write is acknowledged once the quorum and every in-sync replica of the
/// latest record hold it). Reads are answered locally where <see cref="CanReadLocally"/> allows,
/// else by the primary while it hears a majority. A catch-up wipes the replica's copy, streams
/// the primary's, and is committed unless a write missed the replica meanwhile. The node's files
/// keep every applied write across crashes (as with FsyncPolicy.Always).
/// </summary>
internal sealed partial class SimPlacementNode
{
    private const int AckTimeoutMs = 1_500;
    private const int RequestTimeoutMs = 10_000;
    private const int StreamTimeoutMs = 10_000;
    private const int WriteQuorum = 2;

    private readonly Dictionary<string, StoredValue> _store = new(StringComparer.Ordinal);
    private readonly Dictionary<(uint Start, NodeId Replica), bool> _catchUpBroken = [];
    // The catch-up session this node last took as a replica, per slice (kept in its files).
    private readonly Dictionary<uint, long> _catchUpSessions = [];
    // The answers of increments this node applied or learned, and a primary's increments not yet
    // known to be on every in-sync replica (memory only). The files keep the answers each record
    // carries (the ones of its key, as RecordAnswers.Attach does), which a restart loads again.
    private RecentOperations _recent = new(60_000);
    private ImmutableList<(long Version, OperationAnswer Answer)> _fileAnswers = [];
    private InDoubtOperations _inDoubt = new(60_000);
    private int _writesInFlight;

    // The key hashes of those writes (a key once per write): a hand-over waits for the ones of its slice.
    private readonly List<uint> _writingHashes = [];

    private bool HandingOver(string key) => sim.Scope.HandOverFence && _slices.IsHandingOverKey(KeyHash.Of(key));

    /// <summary>Whether a write of a key in <paramref name="range"/> is in flight here.</summary>
    private bool WritingIn(SliceRange range) => _writingHashes.Exists(range.Contains);

    /// <summary>Writes this node versioned and applied as a primary, not yet decided.</summary>
    public int WritesInFlight => Running ? _writesInFlight : 0;
    // The files' changes the OS holds and the disk may not (FsyncPolicy.EverySecond): each key's
    // value before and after, in the order written; a power loss undoes a suffix of them.
    private readonly List<(string Key, StoredValue? Before, StoredValue? After, ImmutableList<(long Version, OperationAnswer Answer)> AnswersBefore)> _unsynced = [];
    private const int FsyncMs = 1_000;
    private HybridClock _clock = new();
    // Hinted handoff, the primary's memory of the writes each listed replica missed (as _missed).
    private MissedWrites _missed = new();
    private const int AntiEntropyMs = 60_000;
    // As the node's DeltaBase: tombstones live for the retention (10 min), a minute's margin kept.
    private const long TombstoneSafeMs = 9 * 60_000;

    /// <summary>May a client call this node? Running, its maps confirmed by the farm's (a lone bootstrap map's writes need a handoff, not simulated).</summary>
    public bool TakesClients => Running && _confirmed && View.Slices.Any(s => s.Epoch > 0);

    /// <summary>What this node's files hold for <paramref name="key"/>.</summary>
    public StoredValue? Stored(string key) => _store.TryGetValue(key, out StoredValue value) ? value : null;

    private void StartData()
    {
        _unsynced.Clear();
        _writesInFlight = 0;
        _writingHashes.Clear();
        long life = Life;
        sim.After(sim.Random.Next(1, FsyncMs), () => Fsync(life));

        // As Open and RecoverAnswers: the answers the files' records carry, younger than the
        // retention, in version order (a later record's answer of an operation wins).
        _recent = new RecentOperations(60_000);
        long since = WallNowMs - _recent.RetentionMs;
        _fileAnswers = _fileAnswers.RemoveAll(a => HybridTimestamp.PhysicalMsOf(a.Version) < since);
        foreach ((long _, OperationAnswer answer) in _fileAnswers.OrderBy(a => a.Version))
        {
            _recent.Set(answer, sim.NowMs);
        }
        _missed = new MissedWrites();
        if (sim.Scope.HintsAndAntiEntropy)
        {
            sim.After(sim.Random.Next(1, AntiEntropyMs), () => AntiEntropy(life));
        }

        StartSliding(life);
        _singleFlights = new SingleFlights();
        _flightWaiters.Clear();
        _clock = new HybridClock();
        _clock.Observe(_store.Values.Select(v => v.Version).DefaultIfEmpty(0).Max());
        _catchUpBroken.Clear();

        // As RecoverAnswers: the answers each key's newest record carries, in a slice it led, are in doubt again.
        _inDoubt = new InDoubtOperations(60_000);
        foreach ((string key, StoredValue value) in _store.Where(e => !e.Value.Answers.IsDefaultOrEmpty && View.Find(KeyHash.Of(e.Key)).Primary == Id))
        {
            foreach (OperationAnswer answer in value.Answers)
            {
                _inDoubt.Add(key, answer, sim.NowMs);
            }
        }
    }

    // As SplitLargeSlices, after a round's steps: a quiet slice this node leads (the real
    // SplitRule) whose copy holds SplitKeys live keys or more, and that it catches no one up on,
    // is cut at its middle through the real SliceAuthority; both halves are pushed to their
    // replicas, which carve them out of the old record. How the data grows is the scenario's.
    private void SplitLargeSlices()
    {
        if (!sim.Scope.Splits || sim.NowMs >= sim.SplitsUntilMs)
        {
            return;
        }

        foreach (PieSlice slice in SplitRule.Candidates(View, Id).ToList())
        {
            if (View.Count >= PlacementSimulation.MaxSlices || _catchUps.Any(c => c.Start == slice.Range.Start))
            {
                continue;
            }

            int keys = _store.Count(e => e.Value.Value is not null && slice.Range.Contains(KeyHash.Of(e.Key)));
            if (SplitRule.IsLarge(0, keys, long.MaxValue, PlacementSimulation.SplitKeys) && _slices.TrySplit(slice, sim.NowMs, HasCommitQuorum()))
            {
                PieSlice lower = View.Find(slice.Range.Start);
                PieSlice upper = View.Find(slice.Range.Midpoint);
                sim.SliceSplit(this, slice, lower, upper);
                foreach (PieSlice half in new[] { lower, upper })
                {
                    Push(half);
                    sim.CheckLocalReads(half.Range.Start);
                }
            }
        }
    }

    // FsyncPolicy.EverySecond: once a second, what the files hold is on the disk.
    private void Fsync(long life)
    {
        if (Alive(life))
        {
            _unsynced.Clear();
            sim.After(FsyncMs, () => Fsync(life));
        }
    }

    /// <summary>
    /// A power loss (or kernel crash) of the stopped node's machine: of the writes its files took
    /// since the last fsync, the disk kept those before a random point and none after it (a torn
    /// record at the end is dropped on load, as a lost one).
    /// </summary>
    public int LoseUnsyncedWrites()
    {
        int kept = sim.Random.Next(_unsynced.Count + 1);
        int lost = _unsynced.Count - kept;
        for (int i = _unsynced.Count - 1; i >= kept; i--)
        {
            (string key, StoredValue? before, _, ImmutableList<(long Version, OperationAnswer Answer)> answersBefore) = _unsynced[i];
            _fileAnswers = answersBefore;
            if (before is { } value)
            {
                _store[key] = value;
            }
            else
            {
                _store.Remove(key);
            }
        }

        _unsynced.Clear();
        return lost;
    }

    // Every change of the files goes through here.
    private void Store(string key, StoredValue? value)
    {
        if (!sim.FsyncAlways)
        {
            _unsynced.Add((key, _store.TryGetValue(key, out StoredValue before) ? before : null, value, _fileAnswers));
        }

        if (value is { Answers.IsDefaultOrEmpty: false } carrying)
        {
            _fileAnswers = _fileAnswers.AddRange(carrying.Answers.Select(a => (carrying.Version, a)));
        }
        else if (value is null)
        {
            // A wipe (the only removal): the records go, with their answers.
            uint hash = KeyHash.Of(key);
            _fileAnswers = _fileAnswers.RemoveAll(a => a.Answer.KeyHash == hash);
        }

        if (value is { } stored)
        {
            _store[key] = stored;
        }
        else
        {
            _store.Remove(key);
        }

        IndexSliding(key, value);
    }

    /// <summary>A client's increment of counter <paramref name="key"/> by one at this node, under operation id <paramref name="operation"/> (a retry sends the same).</summary>
    public void Increment(string key, ulong operation, Action<DataReply?> done) =>
        Atomic(new AtomicRequest(AtomicKind.Increment, key, operation, EntryExpiry.None, 1, "", []), done);

    /// <summary>
    /// A client's compare-and-swap at this node: <paramref name="value"/> in place of the key's
    /// value if its version is <paramref name="expectedVersion"/> (0: absent); the reply's value is
    /// "swapped" or "not swapped", its version the key's after.
    /// </summary>
    public void CompareAndSwap(string key, long expectedVersion, string value, ulong operation, Action<DataReply?> done) =>
        Atomic(new AtomicRequest(AtomicKind.CompareAndSwap, key, operation, EntryExpiry.None, expectedVersion, "", Encoding.ASCII.GetBytes(value)), done);

    private void Atomic(AtomicRequest request, Action<DataReply?> done) =>
        Forward(KeyHash.Of(request.Key), (primary, reply) => primary.OnForwardedAtomic(request, reply), done);

    /// <summary>A client's Set (a value) or Remove (null) at this node; <paramref name="done"/> is called once, unless the process dies first.</summary>
    public void Write(string key, string? value, Action<DataReply?> done) =>
        Forward(KeyHash.Of(key), (primary, reply) => primary.OnForwardedWrite(key, value, reply), done);

    /// <summary>A client's Get at this node: from its own copy where it may read locally, else from the primary.</summary>
    public void Read(string key, Action<DataReply?> done)
    {
        uint hash = KeyHash.Of(key);
        if (CanReadLocally(View.Find(hash)))
        {
            done(ReadHere(key));
            return;
        }

        Forward(hash, (primary, reply) => primary.OnForwardedRead(key, reply), done);
    }

    private DataReply ReadHere(string key) =>
        _store.TryGetValue(key, out StoredValue stored) ? new DataReply(DataError.None, stored.Version, stored.Value, Id) : new DataReply(DataError.None, Answerer: Id);

    // As ForwardAsync: the key's primary (this node, or the one its map names, if reachable)
    // answers; "not primary" and "unavailable" are retried after a map exchange with that node,
    // with a backoff, until the request timeout; a reply that does not come fails the request.
    private void Forward(uint hash, Action<SimPlacementNode, Action<DataReply>> atPrimary, Action<DataReply?> done)
    {
        long life = Life;
        long deadlineMs = sim.NowMs + RequestTimeoutMs;
        int attempt = 0;
        bool finished = false;
        void Finish(DataReply? reply)
        {
            if (!finished && Alive(life))
            {
                finished = true;
                done(reply);
            }
        }

        void Retry() => sim.After(Math.Min(25 << Math.Min(attempt++, 4), 400), Attempt);
        void Attempt()
        {
            if (!Alive(life) || finished)
            {
                return;
            }

            if (sim.NowMs >= deadlineMs)
            {
                Finish(null);
                return;
            }

            PieSlice slice = View.Find(hash);
            if (!_confirmed)
            {
                Retry();
            }
            else if (slice.Primary == Id && !Withdrawn)
            {
                atPrimary(this, reply =>
                {
                    if (reply.Error == DataError.None)
                    {
                        Finish(reply);
                    }
                    else if (Alive(life))
                    {
                        Retry();
                    }
                });
            }
            else if (slice.Primary is { } primary && IsReachable(primary))
            {
                long sent = attempt;
                // The process holding the request dies: the connection breaks, and the sender tries again (ForwardAsync's PeerUnavailableException).
                void Broken()
                {
                    if (Alive(life) && !finished && sent == attempt)
                    {
                        sim.Note($"{Id}: the connection to {primary} broke with a request in it; retried");
                        sim.RetriedOnBrokenConnection++;
                        Retry();
                    }
                }

                sim.Send(this, primary, p =>
                {
                    Action? held = sim.Scope.RetryOnBrokenConnection ? p.HoldRequest(this, Broken) : null;
                    atPrimary(p, reply =>
                    {
                        held?.Invoke();
                        if (held is not null && sim.Scope.ConnectionsBreakAlone && sim.Random.Next(200) == 0 && !sim.IsCut(p.Id, Id))
                        {
                            // The connection breaks with the answer in it; the primary runs on.
                            sim.After(sim.Random.Next(1, 30), Broken);
                            return;
                        }

                        sim.Send(p, Id, n =>
                        {
                            if (!n.Alive(life) || finished || sent != attempt)
                            {
                                return;
                            }

                            if (reply.Error == DataError.None)
                            {
                                Finish(reply);
                            }
                            else
                            {
                                Exchange(primary, isDown: false);
                                Retry();
                            }
                        }, lossless: true);
                    });
                }, lossless: true, refused: () =>
                {
                    // The primary's process is gone: its port refuses the connection.
                    if (!finished && sent == attempt)
                    {
                        Retry();
                    }
                });
                // The request holds the rest of the time: no answer fails it.
                sim.At(deadlineMs, () => Finish(null));
            }
            else
            {
                Retry();
            }
        }

        Attempt();
    }

    // Requests from other nodes this process holds, each with what its sender does when the connection breaks.
    private readonly List<(NodeId From, Action Broken)> _heldRequests = [];

    // Holds a request from another node until answered (the returned action, once); if this
    // process dies first, its sender learns the connection broke (unless the link is cut).
    private Action HoldRequest(SimPlacementNode from, Action broken)
    {
        (NodeId From, Action Broken) held = (from.Id, () =>
        {
            long senderLife = from.Life;
            sim.After(sim.Random.Next(1, 30), () =>
            {
                if (from.Life == senderLife && from.Running)
                {
                    broken();
                }
            });
        });
        _heldRequests.Add(held);
        return () => _heldRequests.Remove(held);
    }

    private void BreakConnections(bool senderLearns)
    {
        List<(NodeId From, Action Broken)> held = [.. _heldRequests];
        _heldRequests.Clear();
        if (!senderLearns)
        {
            return;
        }

        foreach ((NodeId from, Action broken) in held)
        {
            if (!sim.IsCut(Id, from))
            {
                broken();
            }
        }
    }

    // As OnForwardedAsync for Set and Remove.
    private void OnForwardedWrite(string key, string? value, Action<DataReply> reply)
    {
        uint hash = KeyHash.Of(key);
        PieSlice slice = View.Find(hash);
        if (slice.Primary != Id || Withdrawn || !_confirmed)
        {
            reply(new DataReply(DataError.NotPrimary));
            return;
        }

        WriteAsPrimary(slice, key, value, reply);
    }

    // As OnForwardedAsync for Get.
    private void OnForwardedRead(string key, Action<DataReply> reply) => reply(RefusalAsReadPrimary(View.Find(KeyHash.Of(key))) ?? ReadHere(key));

    // As OnForwardedAsync for Get: only the slice's primary answers, and only while it hears a majority.
    private DataReply? RefusalAsReadPrimary(PieSlice slice) =>
        slice.Primary != Id || Withdrawn || !_confirmed ? new DataReply(DataError.NotPrimary)
        : !HasReadQuorum() ? new DataReply(DataError.Unavailable)
        : null;

    // As OnAtomicAsync and DecideAndApply: only while this node hears a majority; a retry of an
    // operation applied here (or learned from the primary this node took over from) gets its
    // first answer once the key's value is replicated again with it; otherwise the real
    // AtomicUpdate decides on the live value, and a write is versioned, applied with the answers
    // of the key's operations still in doubt, and replicated like a write (one that writes
    // nothing, a compare that failed, is answered at once and remembered nowhere).
    private void OnForwardedAtomic(AtomicRequest request, Action<DataReply> reply)
    {
        string key = request.Key;
        ulong operation = request.OperationId;
        uint hash = KeyHash.Of(key);
        PieSlice slice = View.Find(hash);
        if (RefusalAsAtomicPrimary(slice) is { } refused)
        {
            reply(refused);
            return;
        }

        if (_recent.TryGet(operation, out byte[] answered))
        {
            sim.Note($"{Id} answers a retry of {request.Kind} #{operation} of {key}: {Decode(request.Kind, answered)}");
            var retried = new OperationAnswer(operation, hash, answered);
            if (HandingOver(key))
            {
                // As RefuseIfWithdrawn: the confirmation is a write.
                reply(new DataReply(DataError.Unavailable));
                return;
            }

            // The key's current record, a tombstone too (seed 667: a delete since hid a replica still in sync without either).
            if (_store.TryGetValue(key, out StoredValue current) && (current.Value is not null || sim.Scope.HintsAndAntiEntropy))
            {
                OperationAnswer[] carried = [.. _inDoubt.Of(key).Where(a => a.Id != operation), retried];
                Replicate(slice, key, current with { Answers = [.. carried] }, r => reply(r.Error == DataError.None ? Answered(r, request.Kind, key, retried, carried) : r));
            }
            else
            {
                reply(new DataReply(DataError.None, Version: AnsweredVersion(request.Kind, answered), Value: Decode(request.Kind, answered), Answerer: Id));
            }

            return;
        }

        if (WriteReplication.RefusalBeforeApply(slice, _slices.WriteRequires(slice.Range.Start), _slices.IsWriteBlocked(slice.Range.Start), IsReachable, HandingOver(key)) is not null)
        {
            reply(new DataReply(DataError.Unavailable));
            return;
        }

        StoredValue? live = _store.TryGetValue(key, out StoredValue held) && held.Value is not null ? held : null;
        if (request.Kind == AtomicKind.Complete)
        {
            CompleteAsPrimary(slice, request, live, reply);
            return;
        }

        if (live?.Applied?.Contains(operation) == true)
        {
            sim.Data.AppliedTwice($"at {sim.NowMs} ms, after {sim.Phase}: {Id} applies {request.Kind} #{operation} of {key} again, on a value that counts it");
        }

        var entry = new CurrentEntry(live?.Version ?? 0, EntryExpiry.None, Encoding.ASCII.GetBytes(live?.Value ?? ""));
        AtomicChange change = AtomicUpdate.Decide(request, entry, int.MaxValue, _ => null, DateTimeOffset.UnixEpoch);
        if (change.Write is not { } write)
        {
            byte[] unchanged = change.Answer(entry.Version);
            reply(new DataReply(DataError.None, Version: entry.Version, Value: Decode(request.Kind, unchanged), Answerer: Id));
            return;
        }

        long version = _clock.Next(WallNowMs);
        var done = new OperationAnswer(operation, hash, change.Answer(version));
        OperationAnswer[] answers = [.. _inDoubt.Of(key), done];
        // The ghost list: an increment adds to the value's, a swap replaces the value and its history.
        var written = new StoredValue(version, Encoding.ASCII.GetString(write.Value), [.. answers], request.Kind == AtomicKind.Increment ? (live?.Applied ?? []).Add(operation) : [operation]);
        Apply(key, written);
        if (sim.Detailed)
        {
            sim.Note($"{Id} applies {request.Kind} #{operation} of {key}: {Decode(request.Kind, done.Answer)}, {answers.Length - 1} others in doubt");
        }

        _recent.Add(done, sim.NowMs);
        _inDoubt.Add(key, done, sim.NowMs);
        Replicate(slice, key, written, r => reply(r.Error == DataError.None ? Answered(r, request.Kind, key, done, answers) : r));
    }

    // As OnAtomicAsync: only the slice's primary answers, and only while it hears a majority.
    private DataReply? RefusalAsAtomicPrimary(PieSlice slice) =>
        slice.Primary != Id || Withdrawn || !_confirmed ? new DataReply(DataError.NotPrimary)
        : !HasReadQuorum() && MajorityContact.HasMajorityToKeep(Id, Voters()) ? new DataReply(DataError.Unavailable)
        : null;

    // Replicated to every in-sync replica: they all know these answers now.
    private DataReply Answered(DataReply replicated, AtomicKind kind, string key, OperationAnswer answer, IReadOnlyCollection<OperationAnswer> carried)
    {
        _inDoubt.Confirm(key, carried);
        return replicated with { Value = Decode(kind, answer.Answer), Version = AnsweredVersion(kind, answer.Answer) is var v and not 0 ? v : replicated.Version };
    }

    // An increment answers the sum; a compare-and-swap whether it swapped, and the key's version after.
    private static string Decode(AtomicKind kind, byte[] answer)
    {
        var reader = new MessageReader(answer);
        return kind == AtomicKind.CompareAndSwap ? reader.Bool() ? "swapped" : "not swapped" : reader.I64().ToString(CultureInfo.InvariantCulture);
    }

    private static long AnsweredVersion(AtomicKind kind, byte[] answer)
    {
        if (kind != AtomicKind.CompareAndSwap)
        {
            return 0;
        }

        var reader = new MessageReader(answer);
        reader.Bool();
        return reader.I64();
    }

    // As WriteAsPrimaryAsync and ReplicateWriteAsync: version, apply here, send to the replicas
    // of the record read after the apply (and of the one the write began on), tally the answers,
    // drop the in-sync replicas that failed (after their leases), then decide.
    private void WriteAsPrimary(PieSlice begun, string key, string? value, Action<DataReply> reply)
    {
        if (WriteReplication.RefusalBeforeApply(begun, _slices.WriteRequires(begun.Range.Start), _slices.IsWriteBlocked(begun.Range.Start), IsReachable, HandingOver(key)) is not null)
        {
            reply(new DataReply(DataError.Unavailable));
            return;
        }

        var written = new StoredValue(_clock.Next(WallNowMs), value);
        Apply(key, written);
        Replicate(begun, key, written, reply);
    }

    // The rest of a write at the primary, once applied here: send it to the replicas, tally, decide.
    private void Replicate(PieSlice begun, string key, StoredValue written, Action<DataReply> done)
    {
        // As _writesInFlight: a goodbye waits for these before it hands the slices over.
        _writesInFlight++;
        uint writing = KeyHash.Of(key);
        _writingHashes.Add(writing);
        long life = Life;
        void reply(DataReply r)
        {
            if (Alive(life))
            {
                _writesInFlight--;
                _writingHashes.Remove(writing);
            }

            done(r);
        }

        string? value = written.Value;
        uint start = begun.Range.Start;
        PieSlice current = View.Find(start);
        // Replicas taken out of the in-sync set by a record no majority is known to hold get it too, and must hold it.
        uint keyStart = View.Find(KeyHash.Of(key)).Range.Start;
        ImmutableArray<NodeId> required = _slices.WriteRequires(keyStart);
        if (WriteReplication.IsAlone(begun, current, Id) && required.IsEmpty && !_slices.IsWriteBlocked(keyStart))
        {
            reply(new DataReply(DataError.None, written.Version, value, Id, current.Epoch, new HashSet<NodeId> { Id }));
            return;
        }

        IReadOnlyCollection<NodeId> alsoTo = WriteReplication.AlsoTo(begun, required);
        List<NodeId> targets = WriteReplication.Targets(current, alsoTo, Id, IsReachable);
        var replies = new ReplicaReply[targets.Count];
        Array.Fill(replies, ReplicaReply.Failed);
        int pending = targets.Count;
        bool tallied = false;
        void Tally()
        {
            if (tallied || !Alive(life))
            {
                return;
            }

            tallied = true;
            ReplicationTally tally = WriteReplication.Tally(current, alsoTo, Id, targets, replies, IsReachable);
            NoteMissedWrites(current, written.Version, tally.Missed);
            foreach (NodeId broken in tally.BrokenCatchUps)
            {
                _catchUpBroken[(start, broken)] = true;
            }

            bool waited = false;
            void Decide()
            {
                // As the node: a replica this write missed was just taken out; wait for the
                // confirmation under way (up to the ack timeout), not a retry.
                uint keyStart = View.Find(KeyHash.Of(key)).Range.Start;
                if (!waited && (_slices.IsWriteBlocked(keyStart) || _slices.WriteRequires(keyStart).Any(n => !tally.Holders.Contains(n))) && _recordConfirmations.IsAsking(keyStart))
                {
                    waited = true;
                    WhenConfirmed(keyStart, AckTimeoutMs, life, Decide);
                    return;
                }

                int inSyncNow = View.Find(start).InSync.Length;
                PieSlice latest = View.Find(KeyHash.Of(key));
                bool hasMajorityToKeep = Voters().Append(Id).Distinct().Skip(2).Any();
                string? refusal = WriteReplication.Refusal(
                    key, tally.Holders, current, WriteQuorum, hasMajorityToKeep, inSyncNow, latest, _slices.WriteRequires(latest.Range.Start), _slices.IsWriteBlocked(latest.Range.Start), Id);
                reply(refusal is null ? new DataReply(DataError.None, written.Version, value, Id, latest.Epoch, tally.Holders) : new DataReply(DataError.Unavailable));
            }

            if (tally.FailedInSync.Count == 0)
            {
                Decide();
                return;
            }

            foreach (PieSlice other in View.Slices.Where(s => s.Primary == Id && s.Range.Start != start && tally.FailedInSync.Any(s.IsInSync)))
            {
                DropFromInSync(other.Range.Start, tally.FailedInSync, "replica did not acknowledge", attempt: 0, life, () => { });
            }

            DropFromInSync(start, tally.FailedInSync, "replica did not acknowledge", attempt: 0, life, Decide);
        }

        for (int i = 0; i < targets.Count; i++)
        {
            int index = i;
            sim.Send(this, targets[i], r =>
            {
                ReplicaReply answer = r.OnReplicate(Id, current, key, written);
                sim.Send(r, Id, n =>
                {
                    if (n.Alive(life) && !tallied)
                    {
                        replies[index] = answer;
                        if (--pending == 0)
                        {
                            Tally();
                        }
                    }
                }, lossless: true);
            }, lossless: true);
        }

        if (pending == 0)
        {
            Tally();
        }
        else
        {
            sim.After(AckTimeoutMs, Tally);
        }
    }

    // As InheritAnswers: this node came to lead the slice.
    private void InheritAnswers(SliceRange range) => _inDoubt.Inherit(_recent.InRangesOldestFirst([range]), sim.NowMs);

    // As OnReplicateAsync: only from the slice's primary; a sender that claims a newer record
    // than this node's has it fetched (here: the record it sent); one that claims none is deposed.
    private ReplicaReply OnReplicate(NodeId from, PieSlice senderRecord, string key, StoredValue value, IReadOnlyCollection<OperationAnswer>? carried = null)
    {
        uint start = senderRecord.Range.Start;
        if (sim.Scope.HintsAndAntiEntropy)
        {
            // As the node: observed also from a deposed primary (seed 890: its write in flight
            // outranked, on another replica, the next primary's writes by version).
            _clock.Observe(value.Version);
        }

        if (View.Find(start).Primary != from && senderRecord.Epoch > View.Find(start).Epoch)
        {
            MergeSlices([senderRecord]);
        }

        PieSlice slice = View.Find(start);
        if (slice.Primary != from)
        {
            return senderRecord.Epoch <= slice.Epoch ? ReplicaReply.Deposed : ReplicaReply.Failed;
        }

        _clock.Observe(value.Version);
        ApplyFromPrimary(key, value, carried);
        return ReplicaReply.Holds;
    }

    private bool Apply(string key, StoredValue value)
    {
        if (_store.TryGetValue(key, out StoredValue held) && held.Version >= value.Version)
        {
            return false;
        }

        Store(key, value);
        return true;
    }

    // As a replica applies a write or a catch-up's record: the answers it carries are known here
    // now (also with a value of the version held: a retry's confirmation); a value that replaced
    // this node's holds none of the increments this node applied as a primary and never saw
    // replicated, unless it carries their answers (as ForgetOwnInDoubt): their retries must apply again.
    private void ApplyFromPrimary(string key, StoredValue value, IReadOnlyCollection<OperationAnswer>? carried = null, bool takesDeadline = true)
    {
        carried ??= value.Answers.IsDefault ? [] : value.Answers;
        if (Apply(key, value))
        {
            // As ForgetOwnInDoubt: the replacing value's answer of an operation counts, or none.
            foreach (OperationAnswer own in _inDoubt.Take(key))
            {
                if (carried.FirstOrDefault(c => c.Id == own.Id) is { Answer: not null } kept)
                {
                    _recent.Set(kept, sim.NowMs);
                }
                else
                {
                    sim.Note($"{Id} forgets its own increment #{own.Id} of {key}");
                    _recent.Remove(own.Id);
                }
            }

            // In place of this node's answers for this key only: the others' values were not replaced.
            uint hash = KeyHash.Of(key);
            Learn(carried.Where(a => a.KeyHash == hash), replace: true);
            Learn(carried.Where(a => a.KeyHash != hash), replace: false);
            return;
        }

        // A value of the version held (a retry's confirmation) is not written again: its answers stay in memory.
        Learn(carried, replace: false);
        if (takesDeadline && value is { Value: not null, SlidingMs: > 0 })
        {
            // As SliceStore.ApplyFromPrimary: its deadline, from the primary, may have moved since this copy took it.
            ApplyTouchFromPrimary(new Touch(key, value.Version, value.DeadlineMs));
        }
    }

    // As RememberAnswers: in place of this node's own answers when the value they came with replaced its own.
    private void Learn(IEnumerable<OperationAnswer> answers, bool replace)
    {
        foreach (OperationAnswer answer in answers)
        {
            if (replace)
            {
                _recent.Set(answer, sim.NowMs);
            }
            else
            {
                _recent.Add(answer, sim.NowMs);
            }
        }
    }

    // As CatchUpAsync (a full copy): the replica learns the record, wipes its copy of the slice
    // and takes a new session; the primary's copy is read after that and streamed; at the end the
    // primary commits the replica in sync unless a write missed it meanwhile.
    private void CatchUp(PieSlice slice, NodeId replica, long life)
    {
        uint start = slice.Range.Start;
        _catchUpBroken[(start, replica)] = false;
        sim.WorkInFlight++;
        bool over = false;
        void End(bool streamed)
        {
            if (over)
            {
                return;
            }

            over = true;
            sim.WorkInFlight--;
            if (!Alive(life))
            {
                return;
            }

            if (streamed)
            {
                CaughtUp(start, replica, life);
            }
            else
            {
                _catchUps.Remove((start, replica));
            }
        }

        // Each step waits for the replica's answer, or fails the catch-up after the stream timeout.
        void Step(Func<SimPlacementNode, bool> atReplica, Action next)
        {
            if (over || !Alive(life))
            {
                return;
            }

            sim.Send(this, replica, r =>
            {
                bool ok = atReplica(r);
                sim.Send(r, Id, n =>
                {
                    if (!over && n.Alive(life))
                    {
                        if (ok)
                        {
                            next();
                        }
                        else
                        {
                            End(streamed: false);
                        }
                    }
                }, lossless: true);
            }, lossless: true);
        }

        sim.After(StreamTimeoutMs, () => End(streamed: false));
        long session = _clock.Next(WallNowMs);
        // As DeltaBase, once the replica has the record: a replica whose copy was complete until it
        // missed writes (noted here or in the record's hints) is sent only what changed since.
        long? since = null;
        // The session ends at the replica; a delta then takes one anti-entropy pass, which must go through.
        void Finish() => Step(r => r.IsCatchUpSession(Id, slice, session), () =>
        {
            if (since is null)
            {
                sim.FullCatchUps++;
                End(streamed: true);
                return;
            }

            Repair(slice, replica, life, repaired =>
            {
                if (repaired && !over)
                {
                    sim.DeltaCatchUps++;
                }

                End(streamed: repaired);
            });
        });
        Step(
            r =>
            {
                r.MergeSlices([slice]);
                return true;
            },
            () =>
            {
                since = sim.Scope.HintsAndAntiEntropy ? ReplicaHints.DeltaBase(View.Find(start), replica, _missed.Since(start, replica), WallNowMs - TombstoneSafeMs) : null;
                Step(r => r.OnCatchUpBegin(Id, slice, session, full: since is null), () =>
                {
                    List<KeyValuePair<string, StoredValue>> copy = [.. _store
                        .Where(e => slice.Range.Contains(KeyHash.Of(e.Key)) && e.Value.Version >= (since ?? 0) && !ExpiredHere(e.Key))
                        .OrderBy(e => e.Key, StringComparer.Ordinal)
                        .Select(e => KeyValuePair.Create(e.Key, Outgoing(e.Key, e.Value)))];
                    List<Touch> touches = since is { } delta ? TouchesSince(slice.Range, delta) : [];
                    if (sim.Detailed)
                    {
                        sim.Note($"{Id} catches {replica} up on {start:x8} e{slice.Epoch}: {(since is null ? "full copy" : $"delta since {since}")}, {copy.Count} records, {touches.Count} touches");
                    }

                    // With the answers of recent increments of the slice's keys: the replica may take the slice over.
                    List<OperationAnswer> answers = _recent.InRange(slice.Range);
                    // Reading and streaming the copy takes a while: writes meanwhile reach the replica too.
                    sim.After(sim.Random.Next(50, 1_500), () => Step(r => r.OnCatchUpChunk(Id, slice, session, copy, answers, touches), Finish));
                });
            });
    }

    // As NoteMissedWrites: every listed replica a write did not reach gets a hint, while its copy is otherwise complete.
    private void NoteMissedWrites(PieSlice slice, long version, IReadOnlyList<NodeId> missed)
    {
        foreach (NodeId replica in missed)
        {
            _missed.Note(slice.Range.Start, replica, version, slice.IsInSync(replica) || slice.HintFor(replica) is not null);
        }
    }

    // As WithHints: the hints a new record carries (a write may be in flight for a request's whole time).
    private PieSlice WithHints(PieSlice current, PieSlice next) =>
        ReplicaHints.For(current, next, replica => _missed.Since(next.Range.Start, replica), HybridTimestamp.FirstVersionAt(WallNowMs - (RequestTimeoutMs + AckTimeoutMs + PlacementSimulation.LeaseMs)));

    // As ForgetHints: memory hints are useless once a replica is in sync again or gone, and on a node that no longer leads the slice.
    private void ForgetHints(PieSlice current, PieSlice next)
    {
        uint start = next.Range.Start;
        if (next.Primary != Id)
        {
            _missed.ForgetSlice(start);
            return;
        }

        foreach (NodeId replica in current.Replicas.Where(n => !next.IsHeldBy(n) || next.IsInSync(n)))
        {
            _missed.Forget(start, replica);
        }
    }

    // As AntiEntropyLoopAsync: every minute a primary repairs each slice it leads with each reachable in-sync replica.
    private void AntiEntropy(long life)
    {
        if (!Alive(life))
        {
            return;
        }

        sim.After(AntiEntropyMs, () => AntiEntropy(life));
        RepairNow();
    }

    /// <summary>One round of the anti-entropy loop now: each slice this node leads with each reachable in-sync replica.</summary>
    public void RepairNow()
    {
        long life = Life;
        if (!Running || !_confirmed || Withdrawn)
        {
            return;
        }

        foreach (PieSlice slice in View.Slices.Where(s => s.Primary == Id))
        {
            foreach (NodeId replica in slice.InSync.Where(n => n != Id && IsReachable(n)))
            {
                Repair(slice, replica, life, _ => { });
            }
        }
    }

    // As RepairAsync, one pass over a slice with one replica: the replica's versions against this
    // node's, last writer wins by the real BucketRepair (tombstones included). Keys newer there
    // are fetched one at a time with their answers and written here like any write, keeping their
    // version, so every replica gets them; then the keys newer here go to the replica as
    // replicated writes, with their answers. A pull refused or not replicated ends the pass
    // (the node's write throws), as does a push the replica refuses: <paramref name="done"/>(false).
    // Not called if a message is lost (the caller's own timeout ends it).
    private void Repair(PieSlice slice, NodeId replica, long life, Action<bool> done)
    {
        sim.Send(this, replica, r =>
        {
            List<StorageRecord> theirs = r.VersionsIn(slice.Range);
            sim.Send(r, Id, n =>
            {
                if (!n.Alive(life))
                {
                    return;
                }

                (List<string> push, List<string> pull) = BucketRepair.Plan(VersionsIn(slice.Range), theirs);
                if (pull.Count + push.Count > 0)
                {
                    sim.Note($"{Id} repairs {slice.Range.Start:x8} with {replica}: push {string.Join(",", push)}, pull {string.Join(",", pull)}");
                }

                void PullFrom(int index)
                {
                    if (index == pull.Count)
                    {
                        Push(slice, replica, push, life, done);
                        return;
                    }

                    Pull(replica, pull[index], life, pulled =>
                    {
                        if (pulled)
                        {
                            PullFrom(index + 1);
                        }
                        else
                        {
                            done(false);
                        }
                    });
                }

                PullFrom(0);
            }, lossless: true);
        }, lossless: true);
    }

    // As OnSliceQuery's BucketVersions: each key's version, live or a tombstone.
    // Entries within 5 s of their deadline are left out (ExpiryMarginMs).
    private List<StorageRecord> VersionsIn(SliceRange range) =>
        [.. _store.Where(e => range.Contains(KeyHash.Of(e.Key)) && !(_slidingEntries.TryGetValue(e.Key, out SmdSs.Storage.StoredEntry? sliding) && sliding.IsExpiredAt(WallNowMs + 5_000)))
            .Select(e => new StorageRecord(e.Value.Value is null ? RecordKind.Delete : RecordKind.Put, e.Key, e.Value.Version, EntryExpiry.None, []))];

    // A pull: the replica's record of the key with the answers of its operations (as FetchRecords;
    // nothing if it no longer holds it), written here keeping its version as WriteAsPrimaryAsync
    // does: refused while this node may not write the slice, else applied and, if it changed
    // something or is a delete, replicated and decided like any write.
    private void Pull(NodeId replica, string key, long life, Action<bool> done)
    {
        sim.Send(this, replica, r =>
        {
            StoredValue? theirs = r.Stored(key) is { } held ? r.Outgoing(key, held) : null;
            List<OperationAnswer> answers = r._recent.OfKeys([key]);
            sim.Send(r, Id, n =>
            {
                if (!n.Alive(life))
                {
                    return;
                }

                if (theirs is not { } value)
                {
                    done(true);
                    return;
                }

                Learn(answers, replace: false);
                PieSlice begun = View.Find(KeyHash.Of(key));
                // A node that no longer leads the slice would have its replication refused as deposed.
                if (begun.Primary != Id || Withdrawn
                    || WriteReplication.RefusalBeforeApply(begun, _slices.WriteRequires(begun.Range.Start), _slices.IsWriteBlocked(begun.Range.Start), IsReachable, HandingOver(key)) is not null)
                {
                    done(false);
                    return;
                }

                _clock.Observe(value.Version);
                bool changes = !_store.TryGetValue(key, out StoredValue held) || held.Version < value.Version;
                uint hash = KeyHash.Of(key);
                StoredValue written = value with { Answers = [.. answers.Where(a => a.KeyHash == hash)] };
                // As ApplyAsPrimary: the replica's deadline is not one the primary holds.
                ApplyFromPrimary(key, written, answers, takesDeadline: false);
                if (!changes && value.Value is not null)
                {
                    done(true);
                    return;
                }

                Replicate(begun, key, written, reply =>
                {
                    if (reply.Error == DataError.None)
                    {
                        sim.KeysRepaired++;
                    }

                    done(reply.Error == DataError.None);
                });
            }, lossless: true);
        }, lossless: true);
    }

    // The keys newer here, sent to the replica as replicated writes with their answers.
    private void Push(PieSlice slice, NodeId replica, List<string> keys, long life, Action<bool> done)
    {
        // As RecordsOf: an entry expired here is not sent.
        List<KeyValuePair<string, StoredValue>> records = [.. keys.Where(k => _store.ContainsKey(k) && !(_slidingEntries.TryGetValue(k, out SmdSs.Storage.StoredEntry? e) && e.IsExpiredAt(WallNowMs)))
            .Select(k => new KeyValuePair<string, StoredValue>(k, Outgoing(k, _store[k])))];
        List<OperationAnswer> answers = _recent.OfKeys(keys);
        if (records.Count == 0)
        {
            done(true);
            return;
        }

        PieSlice current = View.Find(slice.Range.Start);
        sim.Send(this, replica, r =>
        {
            bool held = r.OnRepairPush(Id, current, records, answers);
            sim.Send(r, Id, n =>
            {
                if (n.Alive(life))
                {
                    if (held)
                    {
                        sim.KeysRepaired += records.Count;
                    }

                    done(held);
                }
            }, lossless: true);
        }, lossless: true);
    }

    // As OnReplicateAsync for a push of anti-entropy: only from the slice's primary.
    private bool OnRepairPush(NodeId from, PieSlice senderRecord, List<KeyValuePair<string, StoredValue>> records, List<OperationAnswer> answers)
    {
        bool held = true;
        foreach ((string key, StoredValue value) in records)
        {
            uint hash = KeyHash.Of(key);
            held &= OnReplicate(from, senderRecord, key, value with { Answers = [.. answers.Where(a => a.KeyHash == hash)] }, answers) == ReplicaReply.Holds;
        }

        return held;
    }

    // As OnCatchUpAsync: only from the slice's primary, never for a slice this node leads, only the session under way.
    // A delta keeps the copy (and this node's operations in doubt: the values that count them stay).
    private bool OnCatchUpBegin(NodeId from, PieSlice record, long session, bool full)
    {
        uint start = record.Range.Start;
        if (View.Find(start).Primary != from || _catchUpSessions.GetValueOrDefault(start) >= session)
        {
            return false;
        }

        _catchUpSessions[start] = session;
        if (!full)
        {
            return true;
        }

        foreach (string key in _store.Keys.Where(k => record.Range.Contains(KeyHash.Of(k))).ToList())
        {
            Store(key, null);
        }

        // As the node: its own unreplicated increments are in the new copy only if its answers say so.
        foreach (OperationAnswer own in _inDoubt.TakeInRange(record.Range))
        {
            _recent.Remove(own.Id);
        }

        return true;
    }

    private bool OnCatchUpChunk(NodeId from, PieSlice record, long session, List<KeyValuePair<string, StoredValue>> copy, List<OperationAnswer> answers, List<Touch> touches)
    {
        if (!IsCatchUpSession(from, record, session))
        {
            return false;
        }

        foreach (Touch touch in touches)
        {
            ApplyTouchFromPrimary(touch);
        }

        foreach ((string key, StoredValue value) in copy)
        {
            _clock.Observe(value.Version);
            uint hash = KeyHash.Of(key);
            ApplyFromPrimary(key, value with { Answers = [.. answers.Where(a => a.KeyHash == hash)] }, [.. answers, .. value.Answers.IsDefault ? [] : value.Answers]);
        }

        Learn(answers, replace: false);

        return true;
    }

    private bool IsCatchUpSession(NodeId from, PieSlice record, long session) =>
        View.Find(record.Range.Start).Primary == from && _catchUpSessions.GetValueOrDefault(record.Range.Start) == session;
}
