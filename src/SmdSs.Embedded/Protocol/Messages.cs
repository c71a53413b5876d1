using System.Collections.Immutable;
using SmdSs.Model;
using SmdSs.Storage;

namespace SmdSs.Protocol;

/// <summary>A digest exchange: the sender's own record and the digests of its two maps.</summary>
internal sealed record SyncDigestMessage(NodeRecord Sender, UInt128 NodeDigest, UInt128 SliceDigest);

/// <summary>The versions a node holds, sent back when digests differ.</summary>
internal sealed record SyncSummaryMessage(IReadOnlyList<NodeSummary> Nodes, IReadOnlyList<SliceSummary> Slices);

/// <summary>Records one side is newer on, and the ids/starts it wants from the other.</summary>
internal sealed record SyncDeltaMessage(IReadOnlyList<NodeRecord> Nodes, IReadOnlyList<PieSlice> Slices, IReadOnlyList<NodeId> WantNodes, IReadOnlyList<uint> WantSlices);

/// <summary>A slice record's version without its body.</summary>
internal readonly record struct SliceSummary(uint Start, long Epoch, ulong Primary, ulong ContentHash);

/// <summary>
/// Records a primary sends its replicas for one slice (writes, touches, snapshot chunks, handoffs);
/// a write of a non-idempotent operation carries its answer too (see <c>Compute.RecentOperations</c>).
/// </summary>
internal sealed record SliceRecordsMessage(uint SliceStart, long Epoch, IReadOnlyList<StorageRecord> Records, IReadOnlyList<OperationAnswer>? Answers = null);

/// <summary>An anti-entropy question about one slice: the versions in some buckets, or the records of some keys.</summary>
internal sealed record SliceQueryMessage(uint SliceStart, long Epoch, IReadOnlyList<int> Buckets, IReadOnlyList<string> Keys);

/// <summary>A key-value operation forwarded to the key's primary.</summary>
internal sealed record ForwardedOperation(string Key, EntryExpiry Expiry, byte[] Value);

/// <summary>Payload encodings of the cluster messages (FORMAT v1; records as in <see cref="WireFormat"/>).</summary>
internal static partial class Messages
{
    public static byte[] Encode(SyncDigestMessage m)
    {
        var w = new MessageWriter();
        WireFormat.Write(w, m.Sender);
        return w.U64((ulong)(m.NodeDigest >> 64)).U64((ulong)m.NodeDigest).U64((ulong)(m.SliceDigest >> 64)).U64((ulong)m.SliceDigest).ToArray();
    }

    public static SyncDigestMessage DecodeSyncDigest(byte[] payload)
    {
        var r = new MessageReader(payload);
        NodeRecord sender = WireFormat.ReadNodeRecord(ref r);
        var nodes = new UInt128(r.U64(), r.U64());
        var slices = new UInt128(r.U64(), r.U64());
        r.ExpectEnd();
        return new SyncDigestMessage(sender, nodes, slices);
    }

    public static byte[] Encode(SyncSummaryMessage m)
    {
        var w = new MessageWriter().U32((uint)m.Nodes.Count);
        foreach (NodeSummary n in m.Nodes)
        {
            w.U64(n.Id.Value).I64(n.Incarnation).U8((byte)n.State).I64(n.Heartbeat).I64(n.GoneSinceMs);
        }

        w.U32((uint)m.Slices.Count);
        foreach (SliceSummary s in m.Slices)
        {
            w.U32(s.Start).I64(s.Epoch).U64(s.Primary).U64(s.ContentHash);
        }

        return w.ToArray();
    }

    public static SyncSummaryMessage DecodeSyncSummary(byte[] payload)
    {
        var r = new MessageReader(payload);
        int nodeCount = r.Count(33);
        var nodes = new List<NodeSummary>(nodeCount);
        for (int i = 0; i < nodeCount; i++)
        {
            nodes.Add(new NodeSummary(new NodeId(r.U64()), r.I64(), (NodeState)Math.Min(r.U8(), (byte)NodeState.Left), r.I64(), r.I64()));
        }

        int sliceCount = r.Count(28);
        var slices = new List<SliceSummary>(sliceCount);
        for (int i = 0; i < sliceCount; i++)
        {
            slices.Add(new SliceSummary(r.U32(), r.I64(), r.U64(), r.U64()));
        }

        r.ExpectEnd();
        return new SyncSummaryMessage(nodes, slices);
    }

    public static byte[] Encode(SyncDeltaMessage m)
    {
        var w = new MessageWriter().U32((uint)m.Nodes.Count);
        foreach (NodeRecord n in m.Nodes)
        {
            WireFormat.Write(w, n);
        }

        w.U32((uint)m.Slices.Count);
        foreach (PieSlice s in m.Slices)
        {
            WireFormat.Write(w, s);
        }

        WireFormat.WriteIds(w, [.. m.WantNodes]);
        w.U32((uint)m.WantSlices.Count);
        foreach (uint start in m.WantSlices)
        {
            w.U32(start);
        }

        return w.ToArray();
    }

    public static SyncDeltaMessage DecodeSyncDelta(byte[] payload)
    {
        var r = new MessageReader(payload);
        int nodeCount = r.Count(WireFormat.MinNodeRecordBytes);
        var nodes = new List<NodeRecord>(nodeCount);
        for (int i = 0; i < nodeCount; i++)
        {
            nodes.Add(WireFormat.ReadNodeRecord(ref r));
        }

        int sliceCount = r.Count(WireFormat.MinSliceBytes);
        var slices = new List<PieSlice>(sliceCount);
        for (int i = 0; i < sliceCount; i++)
        {
            slices.Add(WireFormat.ReadSlice(ref r));
        }

        ImmutableArray<NodeId> wantNodes = WireFormat.ReadIds(ref r);
        int wantCount = r.Count(4);
        var wantSlices = new List<uint>(wantCount);
        for (int i = 0; i < wantCount; i++)
        {
            wantSlices.Add(r.U32());
        }

        r.ExpectEnd();
        return new SyncDeltaMessage(nodes, slices, wantNodes, wantSlices);
    }

    public static byte[] Encode(SliceRecordsMessage m)
    {
        var w = new MessageWriter().U32(m.SliceStart).I64(m.Epoch).U32((uint)m.Records.Count);
        foreach (StorageRecord record in m.Records)
        {
            WireFormat.Write(w, record);
        }

        // Optional trailer: u32 count | count x (u64 id | u32 key hash | bytes answer).
        if (m.Answers is { Count: > 0 } answers)
        {
            w.U32((uint)answers.Count);
            foreach (OperationAnswer answer in answers)
            {
                w.U64(answer.Id).U32(answer.KeyHash).Bytes(answer.Answer);
            }
        }

        return w.ToArray();
    }

    /// <summary>A catch-up message (SnapshotBegin, DeltaBegin, SnapshotChunk, SnapshotEnd): <c>i64 session | slice records</c>.</summary>
    public static byte[] EncodeCatchUp(long session, SliceRecordsMessage m) => [.. new MessageWriter().I64(session).WrittenSpan, .. Encode(m)];

    public static (long Session, SliceRecordsMessage Message) DecodeCatchUp(byte[] payload)
    {
        var r = new MessageReader(payload);
        long session = r.I64();
        return (session, DecodeSliceRecords(payload.AsSpan(8)));
    }

    public static SliceRecordsMessage DecodeSliceRecords(byte[] payload) => DecodeSliceRecords(payload.AsSpan());

    public static SliceRecordsMessage DecodeSliceRecords(ReadOnlySpan<byte> payload)
    {
        var r = new MessageReader(payload);
        uint start = r.U32();
        long epoch = r.I64();
        int count = r.Count(WireFormat.MinRecordBytes);
        var records = new List<StorageRecord>(count);
        for (int i = 0; i < count; i++)
        {
            records.Add(WireFormat.ReadRecord(ref r));
        }

        List<OperationAnswer>? answers = null;
        if (!r.AtEnd)
        {
            int answerCount = r.Count(16);
            answers = new List<OperationAnswer>(answerCount);
            for (int i = 0; i < answerCount; i++)
            {
                answers.Add(new OperationAnswer(r.U64(), r.U32(), r.Bytes()));
            }
        }

        r.ExpectEnd();
        return new SliceRecordsMessage(start, epoch, records, answers);
    }

    public static byte[] Encode(SliceQueryMessage m)
    {
        var w = new MessageWriter().U32(m.SliceStart).I64(m.Epoch).U32((uint)m.Buckets.Count);
        foreach (int bucket in m.Buckets)
        {
            w.U32((uint)bucket);
        }

        w.U32((uint)m.Keys.Count);
        foreach (string key in m.Keys)
        {
            w.String(key);
        }

        return w.ToArray();
    }

    public static SliceQueryMessage DecodeSliceQuery(byte[] payload)
    {
        var r = new MessageReader(payload);
        uint start = r.U32();
        long epoch = r.I64();
        int bucketCount = r.Count(4);
        var buckets = new List<int>(bucketCount);
        for (int i = 0; i < bucketCount; i++)
        {
            uint bucket = r.U32();
            buckets.Add(bucket < KeyBuckets.Count ? (int)bucket : throw new ProtocolException($"bucket {bucket} out of range"));
        }

        int keyCount = r.Count(4);
        var keys = new List<string>(keyCount);
        for (int i = 0; i < keyCount; i++)
        {
            keys.Add(r.String());
        }

        r.ExpectEnd();
        return new SliceQueryMessage(start, epoch, buckets, keys);
    }

    public static byte[] EncodeDigests(IReadOnlyList<ulong> digests)
    {
        var w = new MessageWriter();
        foreach (ulong digest in digests)
        {
            w.U64(digest);
        }

        return w.ToArray();
    }

    public static ulong[] DecodeDigests(byte[] payload)
    {
        if (payload.Length != KeyBuckets.Count * 8)
        {
            throw new ProtocolException($"bucket digests of {payload.Length} bytes, expected {KeyBuckets.Count * 8}");
        }

        var r = new MessageReader(payload);
        var digests = new ulong[KeyBuckets.Count];
        for (int i = 0; i < digests.Length; i++)
        {
            digests[i] = r.U64();
        }

        return digests;
    }

    public static byte[] Encode(ForwardedOperation m) =>
        new MessageWriter().String(m.Key).I64(m.Expiry.AbsoluteMs).I64(m.Expiry.SlidingMs).I64(m.Expiry.DeadlineMs).Bytes(m.Value).ToArray();

    public static ForwardedOperation DecodeForwarded(byte[] payload)
    {
        var r = new MessageReader(payload);
        string key = r.String();
        var expiry = new EntryExpiry(r.I64(), r.I64(), r.I64());
        byte[] value = r.Bytes();
        r.ExpectEnd();
        return new ForwardedOperation(key, expiry, value);
    }

    public static byte[] EncodeNode(NodeRecord record)
    {
        var w = new MessageWriter();
        WireFormat.Write(w, record);
        return w.ToArray();
    }

    public static NodeRecord DecodeNode(byte[] payload)
    {
        var r = new MessageReader(payload);
        NodeRecord record = WireFormat.ReadNodeRecord(ref r);
        r.ExpectEnd();
        return record;
    }

    public static byte[] EncodeStarts(IEnumerable<(uint Start, long Epoch)> slices)
    {
        var list = slices.ToList();
        var w = new MessageWriter().U32((uint)list.Count);
        foreach ((uint start, long epoch) in list)
        {
            w.U32(start).I64(epoch);
        }

        return w.ToArray();
    }

    public static List<(uint Start, long Epoch)> DecodeStarts(byte[] payload)
    {
        var r = new MessageReader(payload);
        int count = r.Count(12);
        var list = new List<(uint, long)>(count);
        for (int i = 0; i < count; i++)
        {
            list.Add((r.U32(), r.I64()));
        }

        r.ExpectEnd();
        return list;
    }
}
