using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.IO.Hashing;
using System.Text;

namespace SmdSs.Model;

/// <summary>
/// The 128-bit digest of a node map or a slice map: XxHash128 over every record in the map's
/// canonical order, each laid out byte for byte as the wire carries it (<c>Protocol.WireFormat</c>),
/// so that nodes of every release that hashed the wire form agree. <c>MapDigestTests</c> holds
/// the two layouts equal.
/// </summary>
internal sealed class MapDigest
{
    private readonly ArrayBufferWriter<byte> _bytes = new(1024);

    public static UInt128 Of(IEnumerable<NodeRecord> records)
    {
        var digest = new MapDigest();
        foreach (NodeRecord record in records)
        {
            digest.U64(record.Id.Value).String(record.Endpoint).U8((byte)record.State)
                .I64(record.Incarnation).I64(record.Heartbeat).I64(record.Load).I64(record.GoneSinceMs);
        }

        return digest.Hash();
    }

    public static UInt128 Of(ImmutableArray<PieSlice> slices)
    {
        var digest = new MapDigest();
        foreach (PieSlice slice in slices)
        {
            digest.U32(slice.Range.Start).U32(slice.Range.End).I64(slice.Epoch).Ids(slice.Replicas).Ids(slice.InSync);
            ImmutableArray<ReplicaHint> hints = slice.Hints.IsDefault ? [] : slice.Hints;
            digest.U32((uint)hints.Length);
            foreach (ReplicaHint hint in hints)
            {
                digest.U64(hint.Replica.Value).I64(hint.Since);
            }
        }

        return digest.Hash();
    }

    private UInt128 Hash() => XxHash128.HashToUInt128(_bytes.WrittenSpan);

    private MapDigest U8(byte value)
    {
        _bytes.GetSpan(1)[0] = value;
        _bytes.Advance(1);
        return this;
    }

    private MapDigest U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_bytes.GetSpan(4), value);
        _bytes.Advance(4);
        return this;
    }

    private MapDigest U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_bytes.GetSpan(8), value);
        _bytes.Advance(8);
        return this;
    }

    private MapDigest I64(long value) => U64(unchecked((ulong)value));

    private MapDigest String(string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException("String too long for the protocol.", nameof(value));
        }

        BinaryPrimitives.WriteUInt16LittleEndian(_bytes.GetSpan(2), (ushort)length);
        _bytes.Advance(2);
        _bytes.Advance(Encoding.UTF8.GetBytes(value, _bytes.GetSpan(length)));
        return this;
    }

    private MapDigest Ids(ImmutableArray<NodeId> ids)
    {
        ImmutableArray<NodeId> list = ids.IsDefault ? [] : ids;
        U32((uint)list.Length);
        foreach (NodeId id in list)
        {
            U64(id.Value);
        }

        return this;
    }
}
