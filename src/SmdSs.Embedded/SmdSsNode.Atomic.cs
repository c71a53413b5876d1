using System.Security.Cryptography;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Compute;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// Atomic operations: each runs on the key's primary (forwarded like a write), under the key's
/// lock, reads the live value, decides (<see cref="AtomicUpdate"/>), applies, and replicates the
/// new value like any write. Non-idempotent ones carry a random operation id; the answer is kept
/// by the primary and its replicas (<see cref="RecentOperations"/>), so a retry after a lost
/// answer or a failover is answered, not applied twice.
/// </summary>
public sealed partial class SmdSsNode
{
    private readonly KeyLocks _keyLocks = new();
    private readonly Dictionary<string, ISmdSsEntryProcessor> _processors = new(StringComparer.Ordinal);
    private RecentOperations _recentOperations = new(60_000);
    private InDoubtOperations _inDoubt = new(60_000);

    /// <inheritdoc />
    public async ValueTask<long> IncrementAsync(string key, long delta = 1, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        KeyRules.RefuseReserved(key);
        cancellationToken.ThrowIfCancellationRequested();
        byte[] answer = await AtomicAsync(AtomicKind.Increment, key, options, delta, "", [], cancellationToken).ConfigureAwait(false);
        return new MessageReader(answer).I64();
    }

    /// <inheritdoc />
    public async ValueTask<long> AppendAsync(string key, ReadOnlyMemory<byte> value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        KeyRules.RefuseReserved(key);
        cancellationToken.ThrowIfCancellationRequested();
        KeyRules.ValidateValueLength(value.Length, _options.MaxValueBytes);
        byte[] answer = await AtomicAsync(AtomicKind.Append, key, options, 0, "", value.ToArray(), cancellationToken).ConfigureAwait(false);
        return new MessageReader(answer).I64();
    }

    /// <inheritdoc />
    public ValueTask<SmdSsSwapResult> CompareAndSwapAsync(string key, long expectedVersion, ReadOnlyMemory<byte> value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        KeyRules.RefuseReserved(key);
        return CompareAndSwapInternalAsync(key, expectedVersion, value, options, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SmdSsVersionedValue?> GetVersionedAsync(string key, CancellationToken cancellationToken = default)
    {
        KeyRules.RefuseReserved(key);
        return GetVersionedInternalAsync(key, cancellationToken);
    }

    /// <summary><see cref="CompareAndSwapAsync"/> for any key, reserved ones included: for SMD-SS's own data.</summary>
    internal async ValueTask<SmdSsSwapResult> CompareAndSwapInternalAsync(
        string key, long expectedVersion, ReadOnlyMemory<byte> value, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentOutOfRangeException.ThrowIfNegative(expectedVersion);
        KeyRules.ValidateValueLength(value.Length, _options.MaxValueBytes);
        byte[] answer = await AtomicAsync(AtomicKind.CompareAndSwap, key, options, expectedVersion, "", value.ToArray(), cancellationToken).ConfigureAwait(false);
        var reader = new MessageReader(answer);
        return new SmdSsSwapResult(reader.Bool(), reader.I64());
    }

    /// <summary><see cref="GetVersionedAsync"/> for any key, reserved ones included: for SMD-SS's own data.</summary>
    internal async ValueTask<SmdSsVersionedValue?> GetVersionedInternalAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        uint hash = KeyRules.ValidateAndHash(key);
        FlatFileStore store = RunningStore();
        PieSlice slice = SliceMap!.Find(hash);
        byte[] answer = (CanReadLocally(slice) ? ReadVersioned(store.SliceFor(hash), key, RoleFor(slice)) : null)
            ?? await AtomicAsync(AtomicKind.ReadVersioned, key, null, 0, "", [], cancellationToken).ConfigureAwait(false);
        var reader = new MessageReader(answer);
        bool found = reader.Bool();
        long version = reader.I64();
        byte[] value = reader.Bytes();
        return found ? new SmdSsVersionedValue(value, version) : null;
    }

    /// <inheritdoc />
    public async ValueTask<byte[]> ExecuteAsync(string key, string processorName, ReadOnlyMemory<byte> argument = default, CancellationToken cancellationToken = default)
    {
        KeyRules.RefuseReserved(key);
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentException.ThrowIfNullOrEmpty(processorName);
        KeyRules.ValidateValueLength(argument.Length, _options.MaxValueBytes, nameof(argument));
        return await AtomicAsync(AtomicKind.Execute, key, null, 0, processorName, argument.ToArray(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends one atomic operation to the key's primary (this node, or over the network) and returns its answer.</summary>
    private async ValueTask<byte[]> AtomicAsync(AtomicKind kind, string key, DistributedCacheEntryOptions? options, long number, string name, byte[] value, CancellationToken cancellationToken)
    {
        uint hash = KeyRules.ValidateAndHash(key);
        RunningStore();
        _operations.Increment();
        EntryExpiry expiry = EntryExpiry.FromOptions(options, _time.GetUtcNow());
        var request = new AtomicRequest(kind, key, NewOperationId(), expiry, number, name, value);
        Frame reply = await ForwardAsync(hash, MessageType.Atomic, ComputeMessages.Encode(request), token => OnAtomicAsync(request, token), cancellationToken).ConfigureAwait(false);
        return reply.Payload;
    }

    // Random, not a counter: ids must not repeat across restarts or nodes.
    private static ulong NewOperationId() => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));

    /// <summary>The primary's side of an atomic operation, or "not primary".</summary>
    private async ValueTask<(MessageType, byte[])> OnAtomicAsync(AtomicRequest request, CancellationToken cancellationToken)
    {
        uint hash = KeyRules.ValidateAndHash(request.Key);
        PieSlice slice = SliceMap!.Find(hash);
        if (slice.Primary != SelfRecord!.Id || Withdrawn || !_confirmed.Task.IsCompleted)
        {
            return Error(ErrorCode.NotPrimary, $"{SelfRecord.Id} is not the primary of slice {slice.Range} (epoch {slice.Epoch})");
        }

        // Reads and read-modify-writes alike need the primary's majority contact: a primary cut
        // off from the majority would compute on a value the majority's new primary moves past,
        // and a failed increment applied there could win on heal over acknowledged ones.
        if (request.Kind != AtomicKind.Abandon && !HasReadQuorum() && HasMajorityToKeep())
        {
            return Error(ErrorCode.Unavailable, $"{SelfRecord.Id} lost contact with most of the cluster; another node takes slice {slice.Range} over");
        }

        switch (request.Kind)
        {
            case AtomicKind.ReadVersioned:
                return (MessageType.Ok, ReadVersioned(RunningStore().SliceFor(hash), request.Key, ReadRole.Primary)!);
            case AtomicKind.Claim:
                return await OnClaimAsync(request, hash, cancellationToken).ConfigureAwait(false);
            case AtomicKind.Abandon:
                using (await _keyLocks.LockAsync(hash, cancellationToken).ConfigureAwait(false))
                {
                    _singleFlights.Abandon(request.Key, request.Number);
                }

                return (MessageType.Ok, []);
        }

        if (_recentOperations.TryGet(request.OperationId, out byte[] answered))
        {
            // A retry of an operation applied here (or on the primary this node took over from):
            // make sure the key's current value is replicated, and give the first answer.
            BeginWriteOf(hash);
            try
            {
                RefuseIfWithdrawn(hash);
                await ConfirmKeyAsync(slice, hash, new OperationAnswer(request.OperationId, hash, answered), request.Key, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                EndWriteOf(hash);
            }

            return (MessageType.Ok, answered);
        }

        return await UpdateAsPrimaryAsync(slice, hash, request, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<(MessageType, byte[])> UpdateAsPrimaryAsync(PieSlice slice, uint hash, AtomicRequest request, CancellationToken cancellationToken)
    {
        // Not applied (and then in doubt) while it could not be acknowledged anyway: the sender retries.
        if (Core.WriteReplication.RefusalBeforeApply(slice, _slices!.WriteRequires(slice.Range.Start), _slices.IsWriteBlocked(slice.Range.Start), IsReachable, _slices.IsHandingOverKey(hash)) is { } notYet)
        {
            throw new SmdSsUnavailableException(notYet);
        }

        BeginWriteOf(hash);
        try
        {
            RefuseIfWithdrawn(hash);
            (MessageType, byte[])? error = null;
            AppliedOperation applied;
            byte[]? appliedBefore = null;
            using (await _keyLocks.LockAsync(hash, cancellationToken).ConfigureAwait(false))
            {
                // The lock's wait may outlast a goodbye's (it gives up waiting after 5 s).
                RefuseIfWithdrawn(hash);

                // Checked again under the lock: a duplicate of the request (a resent or duplicated
                // frame) may have passed the first check while the original was being applied.
                applied = _recentOperations.TryGet(request.OperationId, out appliedBefore)
                    ? default
                    : DecideAndApply(hash, request, out error);
            }

            if (error is { } refused)
            {
                return refused;
            }

            if (appliedBefore is not null)
            {
                await ConfirmKeyAsync(slice, hash, new OperationAnswer(request.OperationId, hash, appliedBefore), request.Key, cancellationToken).ConfigureAwait(false);
                return (MessageType.Ok, appliedBefore);
            }

            if (applied.Written is { } written)
            {
                await ReplicateWriteAsync(slice, written, applied.InDoubt, cancellationToken).ConfigureAwait(false);
                _inDoubt.Confirm(request.Key, applied.InDoubt);
            }
            else if (request.Kind == AtomicKind.Complete)
            {
                // The value found may be this very claim's, applied by a first try whose
                // replication failed (its retry lands here): replicated before anyone is told it
                // was added (placement simulation, seed 1508 of scope 6).
                await ConfirmKeyAsync(slice, hash, retried: null, request.Key, cancellationToken).ConfigureAwait(false);
            }

            if (request.Kind == AtomicKind.Complete)
            {
                // Only now, with the value on the replicas, may the waiting callers have it.
                _singleFlights.Complete(request.Key, applied.Answer);
            }

            _metrics?.Operation(OperationName(request.Kind));
            return (MessageType.Ok, applied.Answer);
        }
        finally
        {
            EndWriteOf(hash);
        }
    }

    /// <summary>What an operation wrote (null: nothing), its answer, and the answers the write carries (this one and the key's others in doubt: the new value contains their effects too).</summary>
    private readonly record struct AppliedOperation(StorageRecord? Written, byte[] Answer, OperationAnswer[]? InDoubt);

    /// <summary>Under the key's lock: reads the live entry, decides, versions and applies; <paramref name="error"/> when the operation is refused.</summary>
    private AppliedOperation DecideAndApply(uint hash, AtomicRequest request, out (MessageType, byte[])? error)
    {
        error = null;
        SliceStore local = RunningStore().SliceFor(hash);
        CurrentEntry current = FindLive(local, request.Key, out StoredEntry? entry)
            ? new CurrentEntry(entry.Version, entry.Expiry, entry.ValueInMemory ?? local.ReadValue(entry) ?? [])
            : new CurrentEntry(0, EntryExpiry.None, []);
        AtomicChange change;
        try
        {
            // A new entry's sliding window runs from this apply at the earliest (its caller's clock began it; a kept expiry is kept).
            AtomicRequest applied = request.Expiry.HasSliding ? request with { Expiry = request.Expiry.AppliedAt(NowMs()) } : request;
            change = AtomicUpdate.Decide(applied, current, _options.MaxValueBytes, FindProcessor, _time.GetUtcNow());
        }
        catch (SmdSsProcessorException ex)
        {
            error = Error(ErrorCode.ProcessorFailed, ex.Message);
            return default;
        }
        catch (ArgumentException ex)
        {
            error = Error(ErrorCode.BadRequest, ex.Message);
            return default;
        }
        catch (InvalidOperationException ex)
        {
            error = Error(ErrorCode.Conflict, ex.Message);
            return default;
        }

        StorageRecord? written = change.Write is { } write ? write with { Version = _clock.Next(NowMs()) } : null;
        byte[] answer = change.Answer(written?.Version ?? current.Version);
        if (written is null)
        {
            return new AppliedOperation(null, answer, null);
        }

        if (request.Kind == AtomicKind.Complete)
        {
            ApplyAsPrimary(written);
            return new AppliedOperation(written, answer, null);
        }

        // The record carries the answers of every operation its value holds (this one and the
        // key's others in doubt): a node restarted on this file still answers their retries.
        var done = new OperationAnswer(request.OperationId, hash, answer);
        OperationAnswer[] inDoubt = [.. _inDoubt.Of(request.Key), done];
        ApplyAsPrimary(written with { Answers = inDoubt });
        _recentOperations.Add(done, MonoMs());
        _inDoubt.Add(request.Key, done, MonoMs());
        return new AppliedOperation(written, answer, inDoubt);
    }

    /// <summary>
    /// Sends the key's current value to its replicas again, with the retried operation's answer
    /// (if any) and the key's others in doubt (same version: a replica that has it ignores the
    /// record but keeps the answers), so that the retried operation is known to hold. A delete
    /// since (no entry left, only its tombstone) is sent too: a replica still in sync that the
    /// operation's first try missed must not keep serving the value from before it (placement
    /// simulation, seed 667 of scope 5). An entry that expired is left to the expiry round, as before.
    /// </summary>
    private async ValueTask ConfirmKeyAsync(PieSlice slice, uint hash, OperationAnswer? retried, string key, CancellationToken cancellationToken)
    {
        SliceStore local = RunningStore().SliceFor(hash);
        StorageRecord current;
        if (FindLive(local, key, out StoredEntry? entry) && (entry.ValueInMemory ?? local.ReadValue(entry)) is { } value)
        {
            current = new StorageRecord(RecordKind.Put, key, entry.Version, entry.Expiry, value);
        }
        else if (!local.TryGet(key, out _) && local.RecordsOf([key], NowMs()) is [{ Kind: RecordKind.Delete } deleted])
        {
            current = deleted;
        }
        else
        {
            return;
        }

        OperationAnswer[] answers = retried is { } answer ? [.. _inDoubt.Of(key).Where(a => a.Id != answer.Id), answer] : _inDoubt.Of(key);
        await ReplicateWriteAsync(slice, current, answers, cancellationToken).ConfigureAwait(false);
        _inDoubt.Confirm(key, answers);
    }

    /// <summary>
    /// This node came to lead <paramref name="ranges"/> (a hand-over, a takeover; writes wait
    /// until a majority holds its record, so none is computed before this): the answers it
    /// learned as the slice's replica are of operations its values hold, which the primary
    /// before it may still hold in doubt and would forget, replaced by a value that does not
    /// carry them (<see cref="ForgetOwnInDoubt"/>), then apply again on a retry once primary
    /// again. Each key's next write carries them (<see cref="Compute.InDoubtOperations.Inherit"/>).
    /// </summary>
    private void InheritAnswers(IReadOnlyCollection<SliceRange> ranges)
    {
        if (ranges.Count > 0)
        {
            _inDoubt.Inherit(_recentOperations.InRangesOldestFirst(ranges), MonoMs());
        }
    }

    /// <summary>
    /// After a restart: the answers the slice files hold (written with the values, see
    /// <see cref="RecordAnswers"/>) are known again. Those of each key's newest record in a slice
    /// this node led are in doubt (whether they reached the replicas before the stop is unknown):
    /// the key's next write carries them. Not those of a slice it held as a replica: its primary
    /// applied them, and a value of its that replaces this node's need not carry them again.
    /// </summary>
    private void RecoverAnswers(StoreLoadReport report, SliceMap map, NodeId self)
    {
        long now = MonoMs();
        // In version order: a later record's answer of an operation replaced an earlier one's.
        foreach (OperationAnswer answer in report.Answers)
        {
            _recentOperations.Set(answer, now);
        }

        foreach ((string key, IReadOnlyList<OperationAnswer> answers) in report.NewestAnswers.Where(n => map.Find(Hashing.KeyHash.Of(n.Key)).Primary == self))
        {
            foreach (OperationAnswer answer in answers)
            {
                _inDoubt.Add(key, answer, now);
            }
        }
    }

    /// <summary>
    /// <c>bool found | i64 version | bytes value</c> of this node's copy, both from one entry;
    /// slides like a Get. Null when this replica must leave the read to the primary.
    /// </summary>
    private byte[]? ReadVersioned(SliceStore local, string key, ReadRole role)
    {
        byte[]? value = null;
        long version = 0;
        LocalLookup found = Lookup(local, key, role, out StoredEntry? entry);
        if (found == LocalLookup.AskPrimary)
        {
            return null;
        }

        if (found == LocalLookup.Live && (entry!.ValueInMemory ?? local.ReadValue(entry)) is { } stored && !Slide(local, entry, role))
        {
            value = stored;
            version = entry.Version;
        }

        _metrics?.Get(hit: value is not null);
        return new MessageWriter().Bool(value is not null).I64(version).Bytes(value ?? []).ToArray();
    }

    private static string OperationName(AtomicKind kind) => kind switch
    {
        AtomicKind.Increment => "increment",
        AtomicKind.Append => "append",
        AtomicKind.CompareAndSwap => "compare_and_swap",
        AtomicKind.Execute => "execute",
        _ => "get_or_add",
    };

    private ISmdSsEntryProcessor? FindProcessor(string name) => _processors.GetValueOrDefault(name);
}
