using System.Diagnostics;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// Reads. Local when this node may answer for the slice (see <see cref="CanReadLocally"/>),
/// which costs a hash, a binary search and a dictionary lookup; otherwise forwarded to the
/// slice's primary. Get and Refresh slide a sliding expiration where they are answered; the
/// maintenance loop sends the new deadline to the other replicas within about a second. A
/// replica leaves a sliding entry near its end to the primary (<see cref="SlidingRenewal"/>).
/// </summary>
public sealed partial class SmdSsNode
{
    /// <summary>Who answers a read from this node's copy.</summary>
    private enum ReadRole
    {
        /// <summary>The slice's primary: its deadlines are the ones that count, and it expires entries.</summary>
        Primary,

        /// <summary>An in-sync replica with a read lease: it leaves sliding entries near their end to the primary.</summary>
        Replica,

        /// <summary>Cut off from the primary and the majority: its own copy is all there is.</summary>
        Degraded,
    }

    private enum LocalLookup
    {
        Missing,
        Live,
        AskPrimary,
    }

    /// <summary>Get (a copy of the value) or Refresh (non-null when found); null when missing.</summary>
    private ValueTask<byte[]?> ReadAsync(string key, MessageType operation, CancellationToken cancellationToken)
    {
        uint hash = KeyRules.ValidateAndHash(key);
        FlatFileStore store = RunningStore();
        _operations.Increment();
        PieSlice slice = SliceMap!.Find(hash);
        if (CanReadLocally(slice) && TryReadLocal(store.SliceFor(hash), key, operation, RoleFor(slice), out byte[]? value))
        {
            _metrics?.Read(local: true);
            return ValueTask.FromResult(value);
        }

        if (MustReadDegraded(slice) && TryReadLocal(store.SliceFor(hash), key, operation, ReadRole.Degraded, out value))
        {
            _metrics?.ReadDegraded();
            return ValueTask.FromResult(value);
        }

        _metrics?.Read(local: false);
        return ReadRemoteAsync(hash, key, operation, cancellationToken);
    }

    /// <summary>The role of this node's copy for reads of a slice it may read locally (see <see cref="CanReadLocally"/>).</summary>
    private ReadRole RoleFor(PieSlice slice) => slice.Primary == SelfRecord!.Id ? ReadRole.Primary : ReadRole.Replica;

    /// <summary>
    /// Reads never fail while a replica is up: when this node has lost contact with most of the
    /// cluster (two of three nodes died, or it is on the minority side of a partition) and the
    /// slice's primary is out of reach, an in-sync copy here answers. Such a read may miss
    /// writes the other side of a partition accepted; writes on this side fail meanwhile.
    /// </summary>
    private bool MustReadDegraded(PieSlice slice)
    {
        NodeId self = SelfRecord!.Id;
        return !Withdrawn && _confirmed.Task.IsCompleted && slice.IsInSync(self)
            && (slice.Primary == self || slice.Primary is not { } primary || !IsReachable(primary))
            && !HasReadQuorum()
            && !IsResyncing();
    }

    /// <summary>
    /// Answers from this node's copy; false when the primary must answer (see
    /// <see cref="SlidingRenewal"/>). The hot path of every local read: one lookup, one clock
    /// read, and for a sliding entry the slide.
    /// </summary>
    private bool TryReadLocal(SliceStore slice, string key, MessageType operation, ReadRole role, out byte[]? result)
    {
        result = null;
        bool isGet = operation == MessageType.Get;
        LocalLookup found = Lookup(slice, key, role, out StoredEntry? entry);
        if (found == LocalLookup.AskPrimary)
        {
            return false;
        }

        // A primary's expiry that claimed the entry after the lookup wins: it reads as gone.
        if (found == LocalLookup.Live && (entry!.SlidingMs == 0 || !Slide(slice, entry, role)))
        {
            entry!.MarkAccess(Stopwatch.GetTimestamp());
            byte[]? value = entry.ValueInMemory ?? ReadEvicted(slice, entry);
            result = isGet ? Copy(value) : value is null ? null : [];
        }

        if (isGet)
        {
            _metrics?.Get(hit: result is not null);
        }

        return true;
    }

    // Callers never share the stored array. No zeroing: every byte is overwritten at once.
    private static byte[]? Copy(byte[]? value)
    {
        if (value is null)
        {
            return null;
        }

        byte[] copy = GC.AllocateUninitializedArray<byte>(value.Length);
        value.CopyTo(copy, 0);
        return copy;
    }

    private async ValueTask<byte[]?> ReadRemoteAsync(uint hash, string key, MessageType operation, CancellationToken cancellationToken)
    {
        Frame reply = await ForwardAsync(hash, operation, new ForwardedOperation(key, EntryExpiry.None, []), cancellationToken).ConfigureAwait(false);
        var reader = new MessageReader(reply.Payload);
        bool found = reader.Bool();
        byte[] value = reader.Bytes();
        if (operation == MessageType.Get)
        {
            _metrics?.Get(hit: found);
        }

        return found ? value : null;
    }

    /// <summary>The primary's read: the live value (the stored array: callers copy), sliding its expiration; null when missing.</summary>
    private byte[]? ReadAndSlide(SliceStore slice, string key, bool countGet)
    {
        TryReadAndSlide(slice, key, countGet, ReadRole.Primary, out byte[]? value);
        return value;
    }

    /// <summary>
    /// The live value in <paramref name="value"/> (the stored array: callers copy), sliding its
    /// expiration; null when missing. False when this replica must leave the read to the primary.
    /// </summary>
    private bool TryReadAndSlide(SliceStore slice, string key, bool countGet, ReadRole role, out byte[]? value)
    {
        value = null;
        LocalLookup found = Lookup(slice, key, role, out StoredEntry? entry);
        if (found == LocalLookup.AskPrimary)
        {
            return false;
        }

        // A primary's expiry that claimed the entry after the lookup wins: it reads as gone.
        if (found == LocalLookup.Live && !Slide(slice, entry!, role))
        {
            entry!.MarkAccess(Stopwatch.GetTimestamp());
            value = entry.ValueInMemory ?? ReadEvicted(slice, entry);
        }

        if (countGet)
        {
            _metrics?.Get(hit: value is not null);
        }

        return true;
    }

    private byte[]? ReadEvicted(SliceStore slice, StoredEntry entry)
    {
        byte[]? value = slice.ReadValue(entry);
        RunningStore().RequestEviction();
        return value;
    }

    /// <summary>Finds the live entry of <paramref name="key"/> in the copy of a slice this node leads.</summary>
    private bool FindLive(SliceStore slice, string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StoredEntry? entry) =>
        Lookup(slice, key, ReadRole.Primary, out entry) == LocalLookup.Live;

    /// <summary>
    /// Looks the key up in this node's copy. An expired entry reads as missing and stays: a
    /// primary notes it for its next expiry round, a replica waits for the primary's delete. A
    /// replica leaves a sliding entry near the end of the deadline the primary is known to hold
    /// to the primary; a copy that may lag renewals allows for them (<see cref="SlidingRenewal"/>).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private LocalLookup Lookup(SliceStore slice, string key, ReadRole role, out StoredEntry? entry)
    {
        if (!slice.TryGet(key, out StoredEntry found))
        {
            entry = null;
            return LocalLookup.Missing;
        }

        long now = NowMs();
        entry = found;
        if (found.SlidingMs == 0)
        {
            // The common case: no renewals to wait for, every copy agrees on the deadline.
            return found.IsExpiredAt(now) ? ExpiredHere(slice, key, role, out entry) : LocalLookup.Live;
        }

        if (role == ReadRole.Replica && !SlidingRenewal.ReplicaMayAnswer(found, now))
        {
            entry = null;
            return LocalLookup.AskPrimary;
        }

        bool expired = found.IsExpiredAt(now) && (role == ReadRole.Replica || !MayLagRenewals(slice, role) || SlidingRenewal.IsExpiredAllowingLag(found, now));
        return expired ? ExpiredHere(slice, key, role, out entry) : LocalLookup.Live;
    }

    private static LocalLookup ExpiredHere(SliceStore slice, string key, ReadRole role, out StoredEntry? entry)
    {
        if (role == ReadRole.Primary)
        {
            slice.NoteExpired(key);
        }

        entry = null;
        return LocalLookup.Missing;
    }

    /// <summary>Does this copy possibly miss renewals made elsewhere (see <see cref="SlidingRenewal"/>)?</summary>
    private bool MayLagRenewals(SliceStore slice, ReadRole role) => role == ReadRole.Degraded || IsNewPrimary(slice.Range.Start);

    /// <summary>This node became the slice's primary less than the touch propagation bound ago.</summary>
    private bool IsNewPrimary(uint sliceStart) => MonoMs() - _slices!.Leases.TookOverSince(sliceStart) < SlidingRenewal.PropagationBoundMs;

    /// <summary>The time a primary judges expiry by: earlier while it is new (see <see cref="SlidingRenewal"/>).</summary>
    private long PrimaryExpiryNowMs(uint sliceStart) => NowMs() - (IsNewPrimary(sliceStart) ? SlidingRenewal.PropagationBoundMs : 0);

    /// <summary>Slides a sliding entry's deadline (see <see cref="SlidingRenewal.Slide"/>); true when the primary's expiry claimed the entry first.</summary>
    private bool Slide(SliceStore slice, StoredEntry entry, ReadRole role)
    {
        if (SlidingRenewal.Slide(entry, NowMs(), atPrimary: role == ReadRole.Primary))
        {
            slice.MarkTouched(entry.Key);
        }

        return entry.IsClaimedForExpiry;
    }
}
