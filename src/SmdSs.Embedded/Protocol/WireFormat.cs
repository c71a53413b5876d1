using System.Collections.Immutable;
using SmdSs.Model;

namespace SmdSs.Protocol;

/// <summary>
/// Encodings of the shared records, used on the wire, in digests and in the persisted cluster
/// state file alike.
/// </summary>
/// <remarks>
/// FORMAT (protocol v2, cluster.state v3; until then a NodeRecord ended at its load):
/// <code>
///   NodeRecord: u64 id | string endpoint | u8 state | i64 incarnation | i64 heartbeat | i64 load | i64 goneSinceMs
///   PieSlice:   u32 start | u32 end | i64 epoch | u32 n | n × u64 replica | u32 m | m × u64 in-sync |
///               u32 h | h × (u64 replica | i64 since)
///   Record:     u8 kind | string key | i64 version | i64 absoluteMs | i64 slidingMs | i64 deadlineMs | bytes value
/// </code>
/// </remarks>
internal static class WireFormat
{
    public const int MinNodeRecordBytes = 8 + 2 + 1 + 32;
    public const int MinSliceBytes = 4 + 4 + 8 + 4 + 4 + 4;
    public const int MinRecordBytes = 1 + 2 + 32 + 4;

    public static void Write(MessageWriter writer, NodeRecord record) =>
        writer.U64(record.Id.Value).String(record.Endpoint).U8((byte)record.State).I64(record.Incarnation).I64(record.Heartbeat).I64(record.Load).I64(record.GoneSinceMs);

    public static NodeRecord ReadNodeRecord(ref MessageReader reader)
    {
        NodeRecord record = ReadNodeRecordWithoutGoneSince(ref reader);
        long goneSinceMs = reader.I64();
        return goneSinceMs < 0 ? throw new ProtocolException($"node {record.Id}: negative time gone {goneSinceMs}") : record with { GoneSinceMs = goneSinceMs };
    }

    /// <summary>A node record as cluster.state v2 holds it (no time gone).</summary>
    public static NodeRecord ReadNodeRecordWithoutGoneSince(ref MessageReader reader)
    {
        var id = new NodeId(reader.U64());
        string endpoint = reader.String();
        byte state = reader.U8();
        if (state > (byte)NodeState.Left)
        {
            throw new ProtocolException($"unknown node state {state}");
        }

        return new NodeRecord(id, endpoint, (NodeState)state, reader.I64(), reader.I64(), reader.I64());
    }

    public static void Write(MessageWriter writer, PieSlice slice)
    {
        writer.U32(slice.Range.Start).U32(slice.Range.End).I64(slice.Epoch);
        WriteIds(writer, slice.Replicas);
        WriteIds(writer, slice.InSync);
        ImmutableArray<ReplicaHint> hints = slice.Hints.IsDefault ? [] : slice.Hints;
        writer.U32((uint)hints.Length);
        foreach (ReplicaHint hint in hints)
        {
            writer.U64(hint.Replica.Value).I64(hint.Since);
        }
    }

    public static PieSlice ReadSlice(ref MessageReader reader)
    {
        uint start = reader.U32();
        uint end = reader.U32();
        if (end < start)
        {
            throw new ProtocolException($"inverted slice range {start:x8}-{end:x8}");
        }

        long epoch = reader.I64();
        ImmutableArray<NodeId> replicas = ReadIds(ref reader);
        ImmutableArray<NodeId> inSync = ReadIds(ref reader);
        int count = reader.Count(16);
        var hints = ImmutableArray.CreateBuilder<ReplicaHint>(count);
        for (int i = 0; i < count; i++)
        {
            hints.Add(new ReplicaHint(new NodeId(reader.U64()), reader.I64()));
        }

        return new PieSlice(new SliceRange(start, end), epoch, replicas, inSync, hints.MoveToImmutable());
    }

    public static void Write(MessageWriter writer, StorageRecord record) =>
        writer.U8((byte)record.Kind).String(record.Key).I64(record.Version)
            .I64(record.Expiry.AbsoluteMs).I64(record.Expiry.SlidingMs).I64(record.Expiry.DeadlineMs).Bytes(record.Value);

    public static StorageRecord ReadRecord(ref MessageReader reader)
    {
        byte kind = reader.U8();
        if (kind is < (byte)RecordKind.Put or > (byte)RecordKind.Touch)
        {
            throw new ProtocolException($"unknown record kind {kind}");
        }

        string key = reader.String();
        long version = reader.I64();
        var expiry = new EntryExpiry(reader.I64(), reader.I64(), reader.I64());
        return new StorageRecord((RecordKind)kind, key, version, expiry, reader.Bytes());
    }

    public static void WriteIds(MessageWriter writer, ImmutableArray<NodeId> ids)
    {
        ImmutableArray<NodeId> list = ids.IsDefault ? [] : ids;
        writer.U32((uint)list.Length);
        foreach (NodeId id in list)
        {
            writer.U64(id.Value);
        }
    }

    public static ImmutableArray<NodeId> ReadIds(ref MessageReader reader)
    {
        int count = reader.Count(8);
        var builder = ImmutableArray.CreateBuilder<NodeId>(count);
        for (int i = 0; i < count; i++)
        {
            builder.Add(new NodeId(reader.U64()));
        }

        return builder.MoveToImmutable();
    }
}
