using System.Collections.Concurrent;
using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Catching up a replica that is listed for a slice but not in sync, while new writes keep
/// flowing to it as to any replica; then it joins the in-sync set. A write that fails to reach
/// it meanwhile breaks the catch-up, which restarts.
/// Delta (hinted handoff): the replica's copy was complete until it missed writes this node
/// noted (<see cref="Replication.MissedWrites"/>) — a restart, a crash, a broken link — so it is
/// sent only what changed since (entries, tombstones, sliding touches), then one anti-entropy
/// pass repairs anything its files lost meanwhile. Full: a new copy (join, re-replication, or
/// no hint here): the replica wipes its copy and the live entries are streamed.
/// Also the handoff of data for a slice this node no longer holds (a lost bootstrap map).
/// </summary>
public sealed partial class SmdSsNode
{
    private const int ChunkBytes = 512 << 10;
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<(uint Start, NodeId Replica), Task> _catchUps = new();
    private readonly ConcurrentDictionary<uint, Task> _handoffs = new();
    private readonly Replication.MissedWrites _missed = new();
    private readonly RepairTally _repairs = new();
    private long _bytesStreamed;

    internal long BytesStreamed => Interlocked.Read(ref _bytesStreamed);

    private void StartCatchUps(CancellationToken stopping)
    {
        NodeId self = SelfRecord!.Id;
        foreach (PieSlice slice in SliceMap!.Slices.Where(s => s.Primary == self))
        {
            foreach (NodeId replica in slice.Replicas.Where(n => n != self && !slice.IsInSync(n) && Nodes.Find(n)?.State is NodeState.Up or NodeState.Joining))
            {
                var key = (slice.Range.Start, replica);
                if (!_catchUps.TryGetValue(key, out Task? running) || running.IsCompleted)
                {
                    _catchUps[key] = Task.Run(() => CatchUpAsync(slice.Range.Start, replica, stopping), CancellationToken.None);
                }
            }
        }
    }

    private async Task CatchUpAsync(uint sliceStart, NodeId replica, CancellationToken stopping)
    {
        if (Nodes.Find(replica) is not { } node)
        {
            return;
        }

        try
        {
            PieSlice slice = SliceMap!.Find(sliceStart);
            _catchUpBroken[(sliceStart, replica)] = false;
            // The replica learns that it holds the slice before any data arrives, so that it
            // never mistakes the incoming copy for data of a slice it lost (and hands it off).
            await _transport!.SendAsync(node.Endpoint, MessageType.SyncDelta, Messages.Encode(new SyncDeltaMessage([SelfRecord!], [slice], [], [])), StreamTimeout, stopping).ConfigureAwait(false);
            long? since = DeltaBase(sliceStart, replica);
            // Later than any session this node started before, restarts included: a stale start
            // that arrives late is refused by the replica rather than wiping this session's data.
            long session = _clock.Next(NowMs());
            await SendSliceMessageAsync(node.Endpoint, since is null ? MessageType.SnapshotBegin : MessageType.DeltaBegin, new SliceRecordsMessage(sliceStart, slice.Epoch, []), stopping, session).ConfigureAwait(false);
            // Read only after the replica wiped its copy (full): a write between a read and the
            // wipe would reach the replica, be wiped, and be in no chunk. A full copy carries the
            // tombstones too: a later delta from a hint relies on the replica knowing them.
            // With the answers of recent atomic operations on the slice's keys, each chunk with its
            // keys' (written into the replica's records, so they outlive a restart) and the end with
            // all, fresh: the replica may take the slice over, and must answer their retries rather
            // than apply them again.
            // Expired as this primary reads it: a new one's leniency keeps what it would still answer.
            List<StorageRecord> records = RunningStore().SliceFor(sliceStart).ChangesSince(since ?? 0, PrimaryExpiryNowMs(sliceStart));
            ILookup<uint, OperationAnswer> answersByKey = _recentOperations.InRange(slice.Range).ToLookup(a => a.KeyHash);
            long bytes = await StreamRecordsAsync(node.Endpoint, sliceStart, slice.Epoch, MessageType.SnapshotChunk, records, stopping, answersByKey, session).ConfigureAwait(false);
            List<OperationAnswer> answers = _recentOperations.InRange(slice.Range);
            await SendSliceMessageAsync(node.Endpoint, MessageType.SnapshotEnd, new SliceRecordsMessage(sliceStart, slice.Epoch, [], answers), stopping, session).ConfigureAwait(false);
            if (since is not null)
            {
                await RepairAsync(slice, replica, stopping).ConfigureAwait(false);
            }

            if (_catchUpBroken.TryGetValue((sliceStart, replica), out bool broken) && broken)
            {
                return;
            }

            Log.SliceStreamed(_logger, slice.Range.ToString(), records.Count, bytes, since is null ? "full copy" : "delta", replica.ToString());
            _metrics?.CaughtUp(bytes, since is not null, records.Count);
            _repairs.CaughtUp(since is not null, bytes);
            PieSlice current = SliceMap!.Find(sliceStart);
            if (current.Primary == SelfRecord!.Id && current.IsHeldBy(replica) && !current.IsInSync(replica))
            {
                // A write that failed to reach it after the check above breaks the catch-up until the commit.
                await CommitSliceAsync(current, current.Next(current.Replicas, [.. current.InSync, replica]), "replica caught up", stopping, () => !_catchUpBroken.GetValueOrDefault((sliceStart, replica))).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is PeerUnavailableException or SmdSsUnavailableException or ProtocolException)
        {
            // Retried by the next placement round.
        }
        catch (PeerRefusedException ex)
        {
            // The replica's anti-entropy answer was out of bounds: this catch-up does not complete.
            LogRefusedAnswer(replica.ToString(), ex.Message);
        }
    }

    /// <summary>The version a delta catch-up of this replica starts from, or null for a full one (<see cref="Core.ReplicaHints.DeltaBase"/>): tombstones live for the retention, a minute's margin kept.</summary>
    private long? DeltaBase(uint sliceStart, NodeId replica) =>
        Core.ReplicaHints.DeltaBase(SliceMap!.Find(sliceStart), replica, _missed.Since(sliceStart, replica), NowMs() - (long)(_options.TombstoneRetention - TimeSpan.FromMinutes(1)).TotalMilliseconds);

    /// <summary>
    /// Streams records of a slice in chunks of about <see cref="ChunkBytes"/>, each chunk with the
    /// <paramref name="answersByKey"/> of its keys (by key hash), and of catch-up <paramref name="session"/> when one; returns the bytes sent.
    /// </summary>
    private async Task<long> StreamRecordsAsync(
        string endpoint, uint sliceStart, long epoch, MessageType type, List<StorageRecord> snapshot, CancellationToken cancellationToken,
        ILookup<uint, OperationAnswer>? answersByKey = null, long? session = null)
    {
        SliceRecordsMessage Chunk(List<StorageRecord> records)
        {
            List<OperationAnswer>? answers = answersByKey is null ? null : [.. records.SelectMany(r => answersByKey[Hashing.KeyHash.Of(r.Key)])];
            return new SliceRecordsMessage(sliceStart, epoch, records, answers is { Count: > 0 } ? answers : null);
        }

        var chunk = new List<StorageRecord>();
        long chunkBytes = 0;
        long total = 0;
        foreach (StorageRecord record in snapshot)
        {
            chunk.Add(record);
            chunkBytes += record.Value.Length + record.Key.Length + 48;
            if (chunkBytes >= ChunkBytes)
            {
                await SendSliceMessageAsync(endpoint, type, Chunk(chunk), cancellationToken, session).ConfigureAwait(false);
                total += chunkBytes;
                chunk = [];
                chunkBytes = 0;
            }
        }

        if (chunk.Count > 0 || type == MessageType.Handoff)
        {
            await SendSliceMessageAsync(endpoint, type, Chunk(chunk), cancellationToken, session).ConfigureAwait(false);
            total += chunkBytes;
        }

        Interlocked.Add(ref _bytesStreamed, total);
        return total;
    }

    private async Task SendSliceMessageAsync(string endpoint, MessageType type, SliceRecordsMessage message, CancellationToken cancellationToken, long? session = null)
    {
        byte[] payload = session is { } id ? Messages.EncodeCatchUp(id, message) : Messages.Encode(message);
        Frame reply = await _transport!.SendAsync(endpoint, type, payload, StreamTimeout, cancellationToken).ConfigureAwait(false);
        if (reply.Type != MessageType.Ok)
        {
            throw new SmdSsUnavailableException($"{type} refused by {endpoint}: {ErrorReply.Read(reply.Payload).Message}");
        }
    }

    /// <summary>Replica side of a catch-up.</summary>
    /// <summary>
    /// The replica's side of a catch-up session: only from the slice's primary, never for a slice
    /// this node leads, and only the records of the session under way (a stale start or chunk of
    /// an older session is refused, not applied).
    /// </summary>
    private async ValueTask<(MessageType, byte[])> OnCatchUpAsync(MessageType type, PeerIdentity peer, long session, SliceRecordsMessage message, CancellationToken cancellationToken)
    {
        NodeId from = peer.Id;
        RefuseForgedVersions(message.Records);
        if (await SliceForDataFromAsync(peer, message.SliceStart, message.Epoch, cancellationToken).ConfigureAwait(false) is not { } slice)
        {
            return NewerRecordNotFetched(from, message.SliceStart, message.Epoch);
        }

        if (slice.Range.Start != message.SliceStart || (slice.Epoch > message.Epoch && slice.Primary != from))
        {
            return Error(ErrorCode.StaleEpoch, $"slice {slice.Range} is at epoch {slice.Epoch}");
        }

        // Never for a slice this node leads, never from a node that does not lead it.
        if (slice.Primary != from)
        {
            return NotFromPrimary(from, slice, message.Epoch, "a catch-up stream");
        }

        SliceStore store = RunningStore().SliceFor(message.SliceStart);
        switch (type)
        {
            case MessageType.SnapshotBegin or MessageType.DeltaBegin:
                if (!store.TryBeginCatchUp(message.Epoch, session, full: type == MessageType.SnapshotBegin))
                {
                    return Error(ErrorCode.StaleEpoch, $"catch-up session {session} of slice {slice.Range} at epoch {message.Epoch} is not newer than the last one started");
                }

                if (type == MessageType.SnapshotBegin)
                {
                    // The copy is wiped: the operations this node applied as a primary and never saw
                    // replicated are in the new copy only if its answers say so (they come with it).
                    foreach (OperationAnswer own in _inDoubt.TakeInRange(slice.Range))
                    {
                        _recentOperations.Remove(own.Id);
                    }
                }

                break;
            case MessageType.SnapshotChunk:
                if (!store.IsCatchUpSession(message.Epoch, session))
                {
                    return Error(ErrorCode.StaleEpoch, $"catch-up session {session} of slice {slice.Range} is not the one under way");
                }

                var applied = new HashSet<uint>();
                foreach (StorageRecord record in message.Records)
                {
                    _clock.Observe(record.Version);
                    if (RunningStore().ApplyFromPrimary(RecordAnswers.Attach(record, message.Answers)))
                    {
                        ForgetOwnInDoubt(record.Key, message.Answers);
                        applied.Add(Hashing.KeyHash.Of(record.Key));
                    }
                }

                RememberAnswers(message, applied);
                RunningStore().RequestEviction();
                break;
            default:
                if (!store.TryEndCatchUp(message.Epoch, session))
                {
                    return Error(ErrorCode.StaleEpoch, $"catch-up session {session} of slice {slice.Range} is not the one under way");
                }

                RememberAnswers(message, replaced: null);
                break;
        }

        return (MessageType.Ok, []);
    }

    /// <summary>
    /// Data held here for a slice this node is no longer a replica of. After a planned move it
    /// is redundant (the replicas that stay hold every acknowledged write) and is wiped; it must
    /// not travel back, or keys deleted since would return. Only what this node took while its
    /// bootstrap map was its own is unique: that goes to the slice's primary as writes with
    /// their own versions (newer data there wins), then is wiped.
    /// </summary>
    private void StartHandoffs(CancellationToken stopping)
    {
        NodeId self = SelfRecord!.Id;
        foreach (PieSlice slice in SliceMap!.Slices)
        {
            SliceStore store = RunningStore().SliceFor(slice.Range.Start);
            if (slice.IsHeldBy(self) || store.Count == 0)
            {
                // Held again, or nothing taken while alone: nothing of the bootstrap map is left to hand off.
                _bootstrapOrphans.TryRemove(slice.Range.Start, out _);
                continue;
            }

            bool busy = _handoffs.TryGetValue(slice.Range.Start, out Task? running) && !running.IsCompleted;
            if (store.Count == 0 || busy || store.IsCatchingUp)
            {
                continue;
            }

            if (!_bootstrapOrphans.ContainsKey(slice.Range.Start))
            {
                store.Wipe();
            }
            else if (slice.Primary is { } primary && Nodes.Find(primary) is { IsReachable: true } node)
            {
                _handoffs[slice.Range.Start] = Task.Run(() => HandoffAsync(slice, node.Endpoint, store, stopping), CancellationToken.None);
            }
        }
    }

    private async Task HandoffAsync(PieSlice slice, string primaryEndpoint, SliceStore store, CancellationToken stopping)
    {
        try
        {
            List<StorageRecord> records = store.Snapshot(NowMs());
            long bytes = await StreamRecordsAsync(primaryEndpoint, slice.Range.Start, slice.Epoch, MessageType.Handoff, records, stopping).ConfigureAwait(false);
            _metrics?.Streamed(bytes);
            if (!SliceMap!.Find(slice.Range.Start).IsHeldBy(SelfRecord!.Id) && !store.IsCatchingUp)
            {
                store.Wipe();
                _bootstrapOrphans.TryRemove(slice.Range.Start, out _);
            }
        }
        catch (Exception ex) when (ex is PeerUnavailableException or SmdSsUnavailableException)
        {
            // Retried by the next placement round.
        }
    }

    /// <summary>Primary side of a handoff: each record is written like any write, keeping its version.</summary>
    private async Task<(MessageType, byte[])> OnHandoffAsync(SliceRecordsMessage message, CancellationToken cancellationToken)
    {
        PieSlice slice = SliceMap!.Find(message.SliceStart);
        if (slice.Primary != SelfRecord!.Id || !_confirmed.Task.IsCompleted)
        {
            return Error(ErrorCode.NotPrimary, $"not the primary of slice {slice.Range}");
        }

        RefuseForgedVersions(message.Records);
        foreach (StorageRecord record in message.Records)
        {
            _clock.Observe(record.Version);
            await WriteAsPrimaryAsync(slice, record, cancellationToken).ConfigureAwait(false);
        }

        return (MessageType.Ok, []);
    }
}
