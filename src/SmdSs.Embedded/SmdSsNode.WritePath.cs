using System.Collections.Concurrent;
using System.Collections.Immutable;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Writes. Every write of a key goes to its slice's primary, which versions it (hybrid logical
/// clock), applies it to its own files, and sends it to every other replica. It answers once
/// every in-sync replica holds the write durably (per FsyncPolicy) and at least WriteQuorum
/// replicas do. An in-sync replica that does not answer within <see cref="AckTimeout"/> leaves
/// the in-sync set once its read lease has run out, so a dead replica stalls writes for at
/// most about AckTimeout + LeaseDuration, and never serves a stale read.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(1.5);
    private readonly ConcurrentDictionary<(uint Start, NodeId Replica), bool> _catchUpBroken = new();
    private int _writesInFlight;
    // The key hashes of the writes in flight (a count per hash): a hand-over waits for those of its slice.
    private readonly ConcurrentDictionary<uint, int> _writingHashes = new();
    private readonly Diagnostics.RateLimitedLog<NodeId> _replicaFailureLog = new(1000);

    /// <summary>Routes a write to the key's primary; true when it changed something (a Remove found the key).</summary>
    private async ValueTask<bool> WriteAsync(uint hash, StorageRecord record, CancellationToken cancellationToken)
    {
        _operations.Increment();
        PieSlice slice = SliceMap!.Find(hash);
        long? deadlineMs = null;
        if (slice.Primary == SelfRecord!.Id && _confirmed.Task.IsCompleted && !Withdrawn)
        {
            // The retries below share the request's time with this first attempt.
            deadlineMs = MonoMs() + (long)_options.RequestTimeout.TotalMilliseconds;
            try
            {
                return await WriteAsPrimaryAsync(slice, record, cancellationToken).ConfigureAwait(false);
            }
            catch (SmdSsUnavailableException)
            {
                // Deposed while writing, or not yet able to: retried as a forwarded write is, here
                // or at the new primary, until RequestTimeout (a retry is a newer version).
            }
        }

        MessageType type = record.Kind == RecordKind.Put ? MessageType.Set : MessageType.Remove;
        Frame reply = await ForwardAsync(hash, type, new ForwardedOperation(record.Key, record.Expiry, record.Value), cancellationToken, deadlineMs).ConfigureAwait(false);
        return new MessageReader(reply.Payload).Bool();
    }

    /// <summary>The primary's write: version, apply locally, replicate, wait for the in-sync replicas and the quorum.</summary>
    private async ValueTask<bool> WriteAsPrimaryAsync(PieSlice slice, StorageRecord record, CancellationToken cancellationToken, IReadOnlyList<OperationAnswer>? answers = null)
    {
        uint hash = Hashing.KeyHash.Of(record.Key);
        if (Core.WriteReplication.RefusalBeforeApply(slice, _slices!.WriteRequires(slice.Range.Start), _slices.IsWriteBlocked(slice.Range.Start), IsReachable, _slices.IsHandingOverKey(hash)) is { } notYet)
        {
            throw new SmdSsUnavailableException(notYet);
        }

        BeginWriteOf(hash);
        try
        {
            RefuseIfWithdrawn(hash);
            StorageRecord versioned;
            bool changed;
            // Under the key's lock: an atomic operation of the key reads, decides and applies in one step.
            using (await _keyLocks.LockAsync(hash, cancellationToken).ConfigureAwait(false))
            {
                // The lock's wait may outlast a goodbye's (it gives up waiting after 5 s).
                RefuseIfWithdrawn(hash);
                // A client's write: versioned here, its sliding window from now (its caller's clock began it).
                if (record.Version == 0)
                {
                    long now = NowMs();
                    versioned = record with { Version = _clock.Next(now), Expiry = record.Expiry.AppliedAt(now) };
                }
                else
                {
                    versioned = record;
                }
                changed = ApplyAsPrimary(RecordAnswers.Attach(versioned, answers));
            }

            if (!changed && versioned.Kind != RecordKind.Delete)
            {
                // An older version (a handoff or a repair): nothing to send.
                return false;
            }

            // A Remove of a key missing here still goes out: a replica may hold it from a write
            // that failed, and the tombstone must win over it there (and in anti-entropy).
            await ReplicateWriteAsync(slice, versioned, answers, cancellationToken).ConfigureAwait(false);
            return changed;
        }
        finally
        {
            EndWriteOf(hash);
        }
    }

    /// <summary>
    /// Called once a write counts itself in flight: a goodbye (or a step-down) that began since
    /// the caller's check may have seen no write in flight and handed the slice over already,
    /// and so may a hand-over of the slice that holds <paramref name="keyHash"/> now (see
    /// <see cref="Core.SliceAuthority.IsHandingOver"/>).
    /// </summary>
    private void RefuseIfWithdrawn(uint? keyHash = null)
    {
        if (Withdrawn)
        {
            throw new SmdSsUnavailableException($"{SelfRecord!.Id} is handing its slices over");
        }

        if (keyHash is { } hash && _slices!.IsHandingOverKey(hash))
        {
            throw new SmdSsUnavailableException($"{SelfRecord!.Id} is handing slice {SliceMap!.Find(hash).Range} over");
        }
    }

    /// <summary>A write of the key of <paramref name="keyHash"/> begins: counted in flight (for a goodbye) and by its key (for a hand-over).</summary>
    private void BeginWriteOf(uint keyHash)
    {
        _writingHashes.AddOrUpdate(keyHash, 1, static (_, count) => count + 1);
        // A full fence after the store: the fence checks that follow cannot be read before it.
        Interlocked.Increment(ref _writesInFlight);
    }

    private void EndWriteOf(uint keyHash)
    {
        while (_writingHashes.TryGetValue(keyHash, out int count)
            && !(count <= 1 ? _writingHashes.TryRemove(new KeyValuePair<uint, int>(keyHash, count)) : _writingHashes.TryUpdate(keyHash, count - 1, count)))
        {
            // Another write of the key began or ended meanwhile: again.
        }

        Interlocked.Decrement(ref _writesInFlight);
    }

    /// <summary>Whether a write of a key in <paramref name="range"/> is in flight here.</summary>
    private bool WritingIn(SliceRange range)
    {
        // The dictionary's own enumeration takes no lock (its Keys would take every one).
        foreach (KeyValuePair<uint, int> writing in _writingHashes)
        {
            if (range.Contains(writing.Key))
            {
                return true;
            }
        }

        return false;
    }

    private bool ApplyAsPrimary(StorageRecord versioned)
    {
        bool changed = RunningStore().Apply(versioned);
        if (versioned.Kind == RecordKind.Put)
        {
            RunningStore().RequestEviction();
        }

        return changed;
    }

    /// <summary>
    /// Sends a write this primary applied to the slice's replicas (with the answer of the
    /// operation that made it, if any) and returns once every in-sync replica and the write
    /// quorum hold it; else throws <see cref="SmdSsUnavailableException"/>.
    /// </summary>
    private async ValueTask ReplicateWriteAsync(PieSlice slice, StorageRecord versioned, IReadOnlyList<OperationAnswer>? answers, CancellationToken cancellationToken)
    {
        // Read the record again after the local apply: a replica added meanwhile either
        // gets this write from its catch-up snapshot or from here, never from neither.
        PieSlice current = SliceMap!.Find(slice.Range.Start);
        NodeId self = SelfRecord!.Id;
        uint keyHash = Hashing.KeyHash.Of(versioned.Key);
        uint keyStart = SliceMap!.Find(keyHash).Range.Start;
        // Replicas taken out of the in-sync set by a record no majority is known to hold get it too, and must hold it.
        ImmutableArray<NodeId> required = _slices!.WriteRequires(keyStart);
        if (Core.WriteReplication.IsAlone(slice, current, self) && required.IsEmpty && !_slices!.IsWriteBlocked(keyStart))
        {
            return;
        }

        HashSet<NodeId> holders = await ReplicateAsync(current, [versioned], Core.WriteReplication.AlsoTo(slice, required), cancellationToken, answers).ConfigureAwait(false);
        keyStart = SliceMap!.Find(keyHash).Range.Start;
        if ((_slices!.IsWriteBlocked(keyStart) || _slices!.WriteRequires(keyStart).Any(n => !holders.Contains(n)))
            && _confirmationRounds.TryGetValue(keyStart, out (long Epoch, Task Task) confirming))
        {
            // A replica this write missed was just taken out (often by this very write's drop),
            // or this node just came to lead the slice: the record is on its way to a majority;
            // wait for that, not a retry.
            await confirming.Task.WaitAsync(AckTimeout, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        int inSyncNow = SliceMap!.Find(slice.Range.Start).InSync.Length;
        PieSlice latest = SliceMap!.Find(keyHash);
        bool blocked = _slices!.IsWriteBlocked(latest.Range.Start);
        required = _slices!.WriteRequires(latest.Range.Start);
        if (Core.WriteReplication.Refusal(versioned.Key, holders, current, WriteQuorum, HasMajorityToKeep(), inSyncNow, latest, required, blocked, self) is { } refusal)
        {
            throw new SmdSsUnavailableException(refusal);
        }
    }

    /// <summary>Sends records to every reachable replica; returns the replicas that hold them (this one included).</summary>
    private async Task<HashSet<NodeId>> ReplicateAsync(PieSlice slice, IReadOnlyList<StorageRecord> records, IEnumerable<NodeId> alsoTo, CancellationToken cancellationToken, IReadOnlyList<OperationAnswer>? answers = null)
    {
        NodeId self = SelfRecord!.Id;
        byte[] payload = Messages.Encode(new SliceRecordsMessage(slice.Range.Start, slice.Epoch, records, answers));
        List<NodeId> targets = Core.WriteReplication.Targets(slice, alsoTo, self, IsReachable);
        Core.ReplicaReply[] replies = await Task.WhenAll(targets.Select(n => SendToReplicaAsync(n, MessageType.Replicate, payload, cancellationToken))).ConfigureAwait(false);
        Core.ReplicationTally tally = Core.WriteReplication.Tally(slice, alsoTo, self, targets, replies, IsReachable);
        NoteMissedWrites(slice, records, tally.Missed);
        foreach (NodeId broken in tally.BrokenCatchUps)
        {
            _catchUpBroken[(slice.Range.Start, broken)] = true;
        }

        if (tally.FailedInSync.Count > 0)
        {
            // The replica is likely gone for every slice: start its lease wait everywhere at
            // once, so that writes to this node's other slices do not each wait in turn.
            foreach (PieSlice other in SliceMap!.Slices.Where(s => s.Primary == self && s.Range != slice.Range && tally.FailedInSync.Any(s.IsInSync)))
            {
                _ = DropFromInSyncAsync(other.Range.Start, tally.FailedInSync, CancellationToken.None);
            }

            await DropFromInSyncAsync(slice.Range.Start, tally.FailedInSync, cancellationToken).ConfigureAwait(false);
        }

        return [.. tally.Holders];
    }

    /// <summary>Hinted handoff: every listed replica these records did not reach gets a hint (see <see cref="Replication.MissedWrites"/>).</summary>
    private void NoteMissedWrites(PieSlice slice, IReadOnlyList<StorageRecord> records, IReadOnlyList<NodeId> missed)
    {
        long oldest = records.Min(r => r.Version);
        foreach (NodeId replica in missed)
        {
            if (_missed.Note(slice.Range.Start, replica, oldest, slice.IsInSync(replica) || slice.HintFor(replica) is not null))
            {
                _metrics?.HintsStored(records.Count);
            }
        }
    }

    /// <summary>Whether the replica holds the records, refused them because it knows a newer record of the slice, or failed.</summary>
    private async Task<Core.ReplicaReply> SendToReplicaAsync(NodeId replica, MessageType type, byte[] payload, CancellationToken cancellationToken)
    {
        if (Nodes.Find(replica) is not { } node)
        {
            return Core.ReplicaReply.Failed;
        }

        try
        {
            Frame reply = await _transport!.SendAsync(node.Endpoint, type, payload, AckTimeout, cancellationToken).ConfigureAwait(false);
            if (reply.Type == MessageType.Ok)
            {
                return Core.ReplicaReply.Holds;
            }

            return reply.Type == MessageType.Error && ErrorReply.Read(reply.Payload).Code == ErrorCode.StaleEpoch ? Core.ReplicaReply.Deposed : Core.ReplicaReply.Failed;
        }
        catch (PeerUnavailableException ex)
        {
            // One line per replica per second: every write to a dead replica fails until it is Down.
            if (_replicaFailureLog.ShouldLog(replica, MonoMs(), out long suppressed))
            {
                Diagnostics.Log.ReplicaFailed(_logger, SliceMap!.Find(new MessageReader(payload).U32()).Range.ToString(), replica.ToString(), ex.Message, suppressed);
            }

            return Core.ReplicaReply.Failed;
        }
    }

    /// <summary>Takes failed replicas out of the in-sync set (after their leases end), unless someone else already did.</summary>
    private async Task DropFromInSyncAsync(uint sliceStart, IReadOnlyCollection<NodeId> failed, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < 5; attempt++)
        {
            PieSlice current = SliceMap!.Find(sliceStart);
            if (Core.WriteReplication.Dropping(current, failed, SelfRecord!.Id) is not { } next)
            {
                return;
            }

            if (await CommitSliceAsync(current, next, "replica did not acknowledge", cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Replica side: applies records from the slice's primary, unless the sender was deposed.</summary>
    private async ValueTask<(MessageType, byte[])> OnReplicateAsync(Transport.PeerIdentity peer, SliceRecordsMessage message, CancellationToken cancellationToken)
    {
        NodeId from = peer.Id;
        RefuseForgedVersions(message.Records);
        // Also from a primary this node deposed (it may be the next one): its write in flight may
        // reach other replicas, and a write versioned below it would lose to it there, by last
        // writer wins, though made later (placement simulation, seed 890 of scope 5).
        foreach (StorageRecord record in message.Records)
        {
            _clock.Observe(record.Version);
        }

        if (await SliceForDataFromAsync(peer, message.SliceStart, message.Epoch, cancellationToken).ConfigureAwait(false) is not { } slice)
        {
            return NewerRecordNotFetched(from, message.SliceStart, message.Epoch);
        }

        // A half of a split this node has not learned yet, from the primary that split it: the
        // records go to the store holding their keys either way.
        bool unknownHalf = slice.Primary == from && message.Epoch > slice.Epoch;
        if (slice.Range.Start != message.SliceStart && !unknownHalf)
        {
            return Error(ErrorCode.BadRequest, $"no slice starts at {message.SliceStart:x8}");
        }

        // Writes come from the primary only; renewals of sliding entries (touches) also from its replicas.
        if (slice.Primary != from && message.Records.Any(r => r.Kind != RecordKind.Touch))
        {
            return NotFromPrimary(from, slice, message.Epoch, "replicated writes");
        }

        if (slice.Epoch > message.Epoch && slice.Primary != from)
        {
            return Error(ErrorCode.StaleEpoch, $"slice {slice.Range} is at epoch {slice.Epoch} with primary {slice.Primary}");
        }

        FlatFileStore store = RunningStore();
        List<string>? refusedTouches = null;
        bool touchesSeen = false;
        HashSet<uint>? applied = null;
        foreach (StorageRecord record in message.Records)
        {
            if (record.Kind == RecordKind.Touch)
            {
                if (!ApplyTouch(from, slice, record) && slice.Primary == SelfRecord!.Id)
                {
                    (refusedTouches ??= []).Add(record.Key);
                }

                touchesSeen = true;
            }
            else if (store.ApplyFromPrimary(RecordAnswers.Attach(record, message.Answers)))
            {
                ForgetOwnInDoubt(record.Key, message.Answers);
                if (message.Answers is { Count: > 0 })
                {
                    // Only writes of atomic operations carry answers: a plain Set allocates nothing here.
                    (applied ??= []).Add(Hashing.KeyHash.Of(record.Key));
                }
            }
        }

        RememberAnswers(message, applied);

        RunningStore().RequestEviction();
        return (MessageType.Ok, Messages.EncodeRefusedTouches(refusedTouches, notPrimary: touchesSeen && slice.Primary != SelfRecord!.Id));
    }

    /// <summary>
    /// Another node's value of <paramref name="key"/> replaced this node's: the operations this
    /// node applied to the key as a primary and never saw reach its replicas (in doubt, also those
    /// recovered from its files after a restart) are not in that value's history unless its sender
    /// says so (<paramref name="carried"/>, the answers that came with it), and then with the
    /// answer the sender gives: the next primary may have applied the operation again, its
    /// effect on another count. Answering their retries with this node's answer would give an
    /// answer twice; with none, apply them twice.
    /// </summary>
    private void ForgetOwnInDoubt(string key, IReadOnlyList<OperationAnswer>? carried)
    {
        foreach (OperationAnswer answer in _inDoubt.Take(key))
        {
            if (carried?.FirstOrDefault(c => c.Id == answer.Id) is { Answer: not null } kept)
            {
                _recentOperations.Set(kept, MonoMs());
            }
            else
            {
                _recentOperations.Remove(answer.Id);
            }
        }
    }

    /// <summary>
    /// Remembers the operation answers a write, a repair or a catch-up carried (see
    /// <see cref="Compute.RecentOperations"/>); in place of this node's own answers of the same
    /// operations for the keys (by hash) whose value the message <paramref name="replaced"/>.
    /// </summary>
    private void RememberAnswers(SliceRecordsMessage message, HashSet<uint>? replaced)
    {
        foreach (OperationAnswer answer in message.Answers ?? [])
        {
            if (replaced?.Contains(answer.KeyHash) == true)
            {
                _recentOperations.Set(answer, MonoMs());
            }
            else
            {
                _recentOperations.Add(answer, MonoMs());
            }
        }
    }

    private static (MessageType, byte[]) Error(ErrorCode code, string message) => (MessageType.Error, new ErrorReply(code, message).Encode());
}
