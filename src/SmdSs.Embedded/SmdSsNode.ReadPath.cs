using SmdSs.Membership;
using System.Diagnostics;
using SmdSs.Placement;
using SmdSs.Protocol;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// Reads. Local when this node may answer for the slice (see <see cref="CanReadLocally"/>),
/// which costs a hash, a binary search and a dictionary lookup; otherwise forwarded to the
/// slice's primary. Get and Refresh slide a sliding expiration where they are answered; the
/// maintenance loop sends the new deadline to the other replicas within about a second.
/// </summary>
public sealed partial class SmdSsNode
{
    /// <summary>Get (a copy of the value) or Refresh (non-null when found); null when missing.</summary>
    private ValueTask<byte[]?> ReadAsync(string key, MessageType operation, CancellationToken cancellationToken)
    {
        uint hash = KeyRules.ValidateAndHash(key);
        FlatFileStore store = RunningStore();
        _operations.Increment();
        PieSlice slice = SliceMap!.Find(hash);
        if (CanReadLocally(slice))
        {
            _metrics?.Read(local: true);
            return ValueTask.FromResult(ReadLocal(store.SliceFor(hash), key, operation));
        }

        if (MustReadDegraded(slice))
        {
            _metrics?.ReadDegraded();
            return ValueTask.FromResult(ReadLocal(store.SliceFor(hash), key, operation));
        }

        _metrics?.Read(local: false);
        return ReadRemoteAsync(hash, key, operation, cancellationToken);
    }

    /// <summary>
    /// Reads never fail while a replica is up: when this node has lost contact with most of the
    /// cluster (two of three nodes died, or it is on the minority side of a partition) and the
    /// slice's primary is out of reach, an in-sync copy here answers. Such a read may miss
    /// writes the other side of a partition accepted; writes on this side fail meanwhile.
    /// </summary>
    private bool MustReadDegraded(PieSlice slice)
    {
        NodeId self = _self!.Id;
        return !_goingDown && _confirmed.Task.IsCompleted && slice.IsInSync(self)
            && (slice.Primary == self || slice.Primary is not { } primary || !IsReachable(primary))
            && !HasReadQuorum();
    }

    private byte[]? ReadLocal(SliceStore slice, string key, MessageType operation)
    {
        byte[]? value = ReadAndSlide(slice, key, countGet: operation == MessageType.Get);
        return operation == MessageType.Get ? Copy(value) : value is null ? null : [];
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

    /// <summary>The live value (the stored array: callers copy), sliding its expiration; null when missing.</summary>
    private byte[]? ReadAndSlide(SliceStore slice, string key, bool countGet)
    {
        if (!FindLive(slice, key, out StoredEntry? entry))
        {
            if (countGet)
            {
                _metrics?.Get(hit: false);
            }

            return null;
        }

        Slide(slice, entry);
        entry.MarkAccess(Stopwatch.GetTimestamp());
        byte[]? value = entry.ValueInMemory ?? ReadEvicted(slice, entry);
        if (countGet)
        {
            _metrics?.Get(hit: value is not null);
        }

        return value;
    }

    private byte[]? ReadEvicted(SliceStore slice, StoredEntry entry)
    {
        byte[]? value = slice.ReadValue(entry);
        RunningStore().EvictIfOverLimit();
        return value;
    }

    /// <summary>Finds the live entry of <paramref name="key"/> in this node's copy; an expired one is dropped on the way.</summary>
    private bool FindLive(SliceStore slice, string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StoredEntry? entry)
    {
        if (!slice.TryGet(key, out entry))
        {
            return false;
        }

        long now = NowMs();
        if (entry.IsExpiredAt(now))
        {
            slice.RemoveExpired(entry, now);
            entry = null;
            return false;
        }

        return true;
    }

    private void Slide(SliceStore slice, StoredEntry entry)
    {
        if (entry.SlidingMs > 0 && entry.ExtendDeadline(entry.Expiry.SlideAt(NowMs())))
        {
            slice.MarkTouched(entry.Key);
        }
    }
}
