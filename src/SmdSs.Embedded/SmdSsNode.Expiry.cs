using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Expiry and sliding renewals across replicas (the rule: <see cref="SlidingRenewal"/>). Only a
/// slice's primary expires entries, by a versioned Delete replicated like a write; touches made
/// by reads on a replica travel to the primary and the other replicas once a second, and the
/// primary's acknowledgement tells the replica which deadline the primary holds.
/// </summary>
public sealed partial class SmdSsNode
{
    // Deletes per Replicate frame: keys are at most 4 KiB, so a batch stays far below a frame's limit.
    private const int ExpiryBatch = 256;

    // Expired entries one pass deletes at most; a sweep that found more goes on next round.
    private const int ExpiryPassMax = 50_000;
    private int _expiring;

    /// <summary>
    /// The expiry step of a maintenance round: slices this node leads (with the majority contact
    /// a primary needs to answer reads) have their expired entries deleted; reads' notes of
    /// other slices are dropped (their primaries decide), and on a sweep their entries expired
    /// for longer than the tombstone retention are dropped as a safety net. Returns false when
    /// a sweep was asked for and not completed (a pass still ran, or it found more than a pass takes).
    /// </summary>
    private bool ExpireRound(FlatFileStore store, long nowMs, bool sweep)
    {
        if (Interlocked.CompareExchange(ref _expiring, 1, 0) != 0)
        {
            // One pass at a time: a slow one (a replica timing out) is not stacked on. The notes stay.
            return !sweep;
        }

        SliceMap map = SliceMap!;
        bool mayExpire = !Withdrawn && _confirmed.Task.IsCompleted && (HasReadQuorum() || !HasMajorityToKeep());
        var work = new List<(PieSlice Slice, List<StoredEntry> Expired)>();
        int taken = 0;
        foreach (SliceStore local in store.SliceStores)
        {
            PieSlice slice = map.Find(local.Range.Start);
            if (!mayExpire || slice.Primary != SelfRecord!.Id || slice.Range != local.Range)
            {
                local.ForgetNotedExpiries();
                if (sweep && slice.Primary != SelfRecord!.Id)
                {
                    store.CountExpired(local.DropExpiredHere(nowMs, nowMs - (long)_options.TombstoneRetention.TotalMilliseconds));
                }

                continue;
            }

            List<StoredEntry> expired = local.TakeExpired(PrimaryExpiryNowMs(slice.Range.Start), sweep, ExpiryPassMax - taken);
            taken += expired.Count;
            if (expired.Count > 0)
            {
                work.Add((slice, expired));
            }
        }

        if (work.Count == 0)
        {
            Volatile.Write(ref _expiring, 0);
        }
        else
        {
            _ = ExpireAsync(work, _stopping?.Token ?? CancellationToken.None);
        }

        return taken < ExpiryPassMax;
    }

    private async Task ExpireAsync(List<(PieSlice Slice, List<StoredEntry> Expired)> work, CancellationToken cancellationToken)
    {
        try
        {
            foreach ((PieSlice slice, List<StoredEntry> expired) in work)
            {
                foreach (StoredEntry[] batch in expired.Chunk(ExpiryBatch))
                {
                    await ExpireBatchAsync(slice, batch, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SmdSsUnavailableException or IOException or ObjectDisposedException or InvalidOperationException or SliceRetiredException)
        {
            // The next round finds what is still expired (a split store's claimed entries stay
            // behind with it; the halves' copies are new entries).
            Diagnostics.Log.MaintenanceFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref _expiring, 0);
        }
    }

    /// <summary>
    /// Deletes each entry still expired and unchanged, under its key's lock (a write that
    /// replaced it meanwhile wins), at a new version, and sends the deletes to the replicas. The
    /// expiry is claimed on the entry first (<see cref="StoredEntry.TryClaimExpiry"/>): a read
    /// that slid it a moment before wins; one a moment after finds it gone.
    /// </summary>
    private async Task ExpireBatchAsync(PieSlice slice, StoredEntry[] expired, CancellationToken cancellationToken)
    {
        // Counted by the slice's first hash: a hand-over of the slice waits for the batch.
        BeginWriteOf(slice.Range.Start);
        var deletes = new List<StorageRecord>();
        try
        {
            RefuseIfWithdrawn();
            foreach (StoredEntry entry in expired)
            {
                uint hash = Hashing.KeyHash.Of(entry.Key);
                using (await _keyLocks.LockAsync(hash, cancellationToken).ConfigureAwait(false))
                {
                    // Looked up again under the lock: the slice may have been split or handed over.
                    PieSlice now = SliceMap!.Find(hash);
                    SliceStore local = RunningStore().SliceFor(hash);
                    // Nor while a hand-over of the slice waits for this batch (it counts under the slice's start).
                    if (now.Primary != SelfRecord!.Id || now.Range != slice.Range || _slices!.IsHandingOver(now.Range.Start)
                        || !local.TryGet(entry.Key, out StoredEntry current) || !ReferenceEquals(current, entry))
                    {
                        continue;
                    }

                    long expiryNow = PrimaryExpiryNowMs(now.Range.Start);
                    if (entry.SlidingMs == 0)
                    {
                        // Every copy agrees on the deadline: each drops it on its own.
                        RunningStore().CountExpired(local.DropExpiredForGood(entry, expiryNow) ? 1 : 0);
                        continue;
                    }

                    if (entry.TryClaimExpiry(expiryNow))
                    {
                        // Sent even if the entry is gone here meanwhile (a compaction dropped the
                        // claimed entry): the replicas still hold it.
                        var delete = new StorageRecord(RecordKind.Delete, entry.Key, _clock.Next(NowMs()), EntryExpiry.None, []);
                        ApplyAsPrimary(delete);
                        deletes.Add(delete);
                    }
                }
            }
        }
        finally
        {
            try
            {
                RunningStore().CountExpired(deletes.Count);
                PieSlice latest = SliceMap!.Find(slice.Range.Start);
                if (deletes.Count > 0 && latest.Replicas.Length > 1)
                {
                    // Replicas that miss them get hints or leave the in-sync set, as for any write.
                    await ReplicateAsync(latest, deletes, [], CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                EndWriteOf(slice.Range.Start);
            }
        }
    }

    /// <summary>
    /// Sends the touches reads made here to the slice's other replicas. The primary's
    /// acknowledgement confirms the deadlines it took (this node may then go on answering reads
    /// of those entries locally); a touch the primary could not be sent is sent again next round.
    /// </summary>
    private void SendTouches(SliceStore local, List<StorageRecord> touches)
    {
        if (SelfRecord is null || SliceMap is not { } map)
        {
            return;
        }

        PieSlice slice = map.Find(local.Range.Start);
        bool toPrimary = false;
        foreach ((NodeId replica, Task<Frame?> sent) in SendTouchesToReplicas(slice, touches))
        {
            if (replica == slice.Primary)
            {
                toPrimary = true;
                _ = ConfirmTouchesAsync(local, touches, sent);
            }
        }

        if (!toPrimary && slice.Primary is { } primary && primary != SelfRecord.Id)
        {
            RetryTouches(local, touches);
        }
    }

    /// <summary>
    /// Before this primary hands a slice to another node: the renewals reads made here reach
    /// the replicas first, so the new primary does not expire an entry a read here just renewed.
    /// </summary>
    private async Task SendPendingTouchesAsync(PieSlice slice)
    {
        SliceStore local = RunningStore().SliceFor(slice.Range.Start);
        List<StorageRecord> touches = local.Range == slice.Range ? local.FlushTouches() : [];
        if (touches.Count > 0)
        {
            await Task.WhenAll(SendTouchesToReplicas(slice, touches).Select(s => s.Sent)).ConfigureAwait(false);
        }
    }

    private List<(NodeId Replica, Task<Frame?> Sent)> SendTouchesToReplicas(PieSlice slice, List<StorageRecord> touches)
    {
        byte[] payload = Messages.Encode(new SliceRecordsMessage(slice.Range.Start, slice.Epoch, touches));
        return [.. slice.Replicas
            .Where(n => n != SelfRecord!.Id && IsReachable(n))
            .Select(n => (n, SendTouchFrameAsync(n, payload)))];
    }

    private async Task<Frame?> SendTouchFrameAsync(NodeId replica, byte[] payload)
    {
        if (Nodes.Find(replica) is not { } node)
        {
            return null;
        }

        try
        {
            return await _transport!.SendAsync(node.Endpoint, MessageType.Replicate, payload, AckTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (PeerUnavailableException)
        {
            return null;
        }
    }

    private static async Task ConfirmTouchesAsync(SliceStore local, List<StorageRecord> touches, Task<Frame?> sent)
    {
        Frame? reply = await sent.ConfigureAwait(false);
        if (reply is not { Type: MessageType.Ok } ok)
        {
            RetryTouches(local, touches);
            return;
        }

        // The primary's answer names the touches it did not take (the entry is gone or expired
        // there): those deadlines are not confirmed, and reads of them go to the primary.
        if (Messages.DecodeRefusedTouches(ok.Payload) is { } refused)
        {
            local.ConfirmTouches(refused.Count == 0 ? touches : touches.Where(t => !refused.Contains(t.Key)));
        }
    }

    private static void RetryTouches(SliceStore local, List<StorageRecord> touches)
    {
        foreach (StorageRecord touch in touches)
        {
            local.MarkTouched(touch.Key);
        }
    }

    /// <summary>
    /// Replica and primary side of a touch another node sent (see <see cref="SlidingRenewal"/>).
    /// True when this node is the slice's primary and holds that deadline now (false: not the
    /// primary, or the entry is gone, another version, or expired here before the touch came).
    /// </summary>
    private bool ApplyTouch(NodeId from, PieSlice slice, StorageRecord touch)
    {
        bool selfPrimary = slice.Primary == SelfRecord!.Id;
        SliceStore local = RunningStore().SliceFor(Hashing.KeyHash.Of(touch.Key));
        // A primary passes the renewals it takes on to every replica (as its own touches), so
        // that every copy's deadline, and what each knows the primary holds, keeps up.
        local.ApplyTouch(
            touch.Key, touch.Version, touch.Expiry.DeadlineMs, fromPrimary: slice.Primary == from,
            refuseExpiredAtMs: selfPrimary ? PrimaryExpiryNowMs(slice.Range.Start) : 0, relay: selfPrimary);
        return selfPrimary && local.TryGet(touch.Key, out StoredEntry entry) && SlidingRenewal.PrimaryHolds(entry, touch.Version, touch.Expiry.DeadlineMs);
    }
}
