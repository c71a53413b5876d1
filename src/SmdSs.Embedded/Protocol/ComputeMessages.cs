using SmdSs.Model;

namespace SmdSs.Protocol;

/// <summary>What an <see cref="AtomicRequest"/> asks the key's primary to do.</summary>
internal enum AtomicKind : byte
{
    Increment = 1,
    Append = 2,
    CompareAndSwap = 3,
    Execute = 4,
    ReadVersioned = 5,

    // GetOrAdd's single flight: the value, or the claim to make it, or "still being made".
    Claim = 6,
    Complete = 7,
    Abandon = 8,
}

/// <summary>
/// An atomic operation on one key, run by its primary under the key's lock.
/// <paramref name="OperationId"/> is random per call and the same on its retries.
/// <paramref name="Number"/>: the delta (Increment), the expected version (CompareAndSwap), the
/// claim token (Complete, Abandon). <paramref name="Name"/>: the processor (Execute).
/// <paramref name="Value"/>: the bytes to append or store, or the processor's argument.
/// </summary>
internal sealed record AtomicRequest(AtomicKind Kind, string Key, ulong OperationId, EntryExpiry Expiry, long Number, string Name, byte[] Value);

/// <summary>One slice to map: the function, its argument, and the exact range the caller knows the slice by.</summary>
internal sealed record MapSliceRequest(string Function, byte[] Argument, uint Start, uint End);

/// <summary>GetOrAdd's answer from the primary.</summary>
internal enum ClaimOutcome : byte
{
    Found = 0,
    Claimed = 1,
    Wait = 2,
}

/// <summary>Payload encodings of the calculation messages (FORMAT v1, as <see cref="Messages"/>).</summary>
internal static class ComputeMessages
{
    public static byte[] Encode(AtomicRequest m) =>
        new MessageWriter().U8((byte)m.Kind).String(m.Key).U64(m.OperationId)
            .I64(m.Expiry.AbsoluteMs).I64(m.Expiry.SlidingMs).I64(m.Expiry.DeadlineMs)
            .I64(m.Number).String(m.Name).Bytes(m.Value).ToArray();

    public static AtomicRequest DecodeAtomic(byte[] payload)
    {
        var r = new MessageReader(payload);
        byte kind = r.U8();
        if (kind is < (byte)AtomicKind.Increment or > (byte)AtomicKind.Abandon)
        {
            throw new ProtocolException($"unknown atomic operation {kind}");
        }

        var request = new AtomicRequest((AtomicKind)kind, r.String(), r.U64(), new EntryExpiry(r.I64(), r.I64(), r.I64()), r.I64(), r.String(), r.Bytes());
        r.ExpectEnd();
        return request;
    }

    public static byte[] Encode(MapSliceRequest m) =>
        new MessageWriter().String(m.Function).Bytes(m.Argument).U32(m.Start).U32(m.End).ToArray();

    public static MapSliceRequest DecodeMapSlice(byte[] payload)
    {
        var r = new MessageReader(payload);
        var request = new MapSliceRequest(r.String(), r.Bytes(), r.U32(), r.U32());
        r.ExpectEnd();
        if (request.End < request.Start)
        {
            throw new ProtocolException($"slice range {request.Start:x8}-{request.End:x8} ends before it starts");
        }

        return request;
    }

    public static byte[] EncodeClaim(ClaimOutcome outcome, long token, ReadOnlySpan<byte> value) =>
        new MessageWriter().U8((byte)outcome).I64(token).Bytes(value).ToArray();

    public static (ClaimOutcome Outcome, long Token, byte[] Value) DecodeClaim(byte[] payload)
    {
        var r = new MessageReader(payload);
        byte outcome = r.U8();
        if (outcome > (byte)ClaimOutcome.Wait)
        {
            throw new ProtocolException($"unknown claim outcome {outcome}");
        }

        (ClaimOutcome, long, byte[]) claim = ((ClaimOutcome)outcome, r.I64(), r.Bytes());
        r.ExpectEnd();
        return claim;
    }
}
