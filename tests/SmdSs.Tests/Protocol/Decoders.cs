using System.Collections.Immutable;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// Every payload decoder (Messages.Decode*, ComputeMessages.Decode*, WireFormat.Read*), each with a valid sample payload
/// and a re-encoder: <c>Decode</c> decodes and encodes the result again, so a round trip compares bytes.
/// </summary>
internal static class Decoders
{
    private static readonly NodeId A = new(0x1111_2222_3333_4444UL);
    private static readonly NodeId B = new(0x5555_6666_7777_8888UL);
    private static readonly NodeId C = new(0x9999_AAAA_BBBB_CCCCUL);

    private static readonly NodeRecord Node1 = new(A, "127.0.0.1:7400", NodeState.Up, 3L << 20, 17, 1234);
    private static readonly NodeRecord Node2 = new(B, "10.0.0.2:7401 \u00e9\u4e2d", NodeState.Suspect, 5L << 20, 2, 0);
    private static readonly NodeRecord Node3 = new(C, "10.0.0.3:7400", NodeState.Left, 2L << 20, 9, 0, 1_800_000_000_000);
    private static readonly PieSlice Slice1 = new(new SliceRange(0, 0x0FFF_FFFF), 7, [A, B, C], [A, B]);
    private static readonly PieSlice Slice2 = new(new SliceRange(0x1000_0000, uint.MaxValue), 0, [C], [C]);
    private static readonly StorageRecord Record1 = new(RecordKind.Put, "user:42 caf\u00e9", 99, new EntryExpiry(1_000, 2_000, 3_000), [1, 2, 3, 4, 5]);
    private static readonly StorageRecord Record2 = new(RecordKind.Delete, "k", 100, EntryExpiry.None, []);
    private static readonly StorageRecord Record3 = new(RecordKind.Touch, "session-\ud83d\ude00", 101, new EntryExpiry(0, 60_000, 123_456), []);

    public static readonly IReadOnlyDictionary<string, (byte[] Valid, Func<byte[], byte[]> Decode)> All =
        new Dictionary<string, (byte[], Func<byte[], byte[]>)>
        {
            ["Messages.DecodeSyncDigest"] = (
                Messages.Encode(new SyncDigestMessage(Node1, new UInt128(1, 2), new UInt128(ulong.MaxValue, 3))),
                p => Messages.Encode(Messages.DecodeSyncDigest(p))),
            ["Messages.DecodeSyncSummary"] = (
                Messages.Encode(new SyncSummaryMessage(
                    [new NodeSummary(A, 1, NodeState.Up, 2, 0), new NodeSummary(B, 3, NodeState.Down, 4, 1_800_000_000_000)],
                    [new SliceSummary(0, 5, A.Value, 6), new SliceSummary(0x8000_0000, 7, 0, 8)])),
                p => Messages.Encode(Messages.DecodeSyncSummary(p))),
            ["Messages.DecodeSyncDelta"] = (
                Messages.Encode(new SyncDeltaMessage([Node1, Node2, Node3], [Slice1, Slice2], [A, C], [0u, 0x1000_0000u])),
                p => Messages.Encode(Messages.DecodeSyncDelta(p))),
            ["Messages.DecodeSliceRecords"] = (
                Messages.Encode(new SliceRecordsMessage(0x1000_0000, 12, [Record1, Record2, Record3])),
                p => Messages.Encode(Messages.DecodeSliceRecords(p))),
            ["Messages.DecodeCatchUp"] = (
                Messages.EncodeCatchUp(0x0102_0304_0506_0708, new SliceRecordsMessage(0x1000_0000, 12, [Record1, Record2])),
                p =>
                {
                    (long session, SliceRecordsMessage message) = Messages.DecodeCatchUp(p);
                    return Messages.EncodeCatchUp(session, message);
                }),
            ["Messages.DecodeForwarded"] = (
                Messages.Encode(new ForwardedOperation("cart:\u00fc", new EntryExpiry(5, 6, 7), [9, 8, 7])),
                p => Messages.Encode(Messages.DecodeForwarded(p))),
            ["Messages.DecodeNode"] = (
                Messages.EncodeNode(Node2),
                p => Messages.EncodeNode(Messages.DecodeNode(p))),
            ["Messages.DecodeStarts"] = (
                Messages.EncodeStarts([(0u, 1L), (0x4000_0000u, 2L), (uint.MaxValue, long.MaxValue)]),
                p => Messages.EncodeStarts(Messages.DecodeStarts(p))),
            ["ComputeMessages.DecodeAtomic"] = (
                ComputeMessages.Encode(new AtomicRequest(AtomicKind.Execute, "cart:\u00fc", 0x0123_4567_89AB_CDEF, new EntryExpiry(5, 6, 7), -42, "cart-add", [9, 8, 7])),
                p => ComputeMessages.Encode(ComputeMessages.DecodeAtomic(p))),
            ["ComputeMessages.DecodeMapSlice"] = (
                ComputeMessages.Encode(new MapSliceRequest("sum-by-prefix", [0x61, 0x3a], 0x1000_0000, 0x1FFF_FFFF)),
                p => ComputeMessages.Encode(ComputeMessages.DecodeMapSlice(p))),
            ["ComputeMessages.DecodeClaim"] = (
                ComputeMessages.EncodeClaim(ClaimOutcome.Found, 17, [1, 2, 3]),
                p =>
                {
                    (ClaimOutcome outcome, long token, byte[] value) = ComputeMessages.DecodeClaim(p);
                    return ComputeMessages.EncodeClaim(outcome, token, value);
                }),
            ["Messages.DecodeNodeStats"] = (
                Messages.Encode(new NodeStatsMessage(
                    A, 4, 123_456_789, 3_000, 1_000, 5L << 30, 1L << 20, 6, 10, long.MaxValue, new UInt128(7, 8), new UInt128(ulong.MaxValue, 9))),
                p => Messages.Encode(Messages.DecodeNodeStats(p))),
            ["WireFormat.ReadNodeRecord"] = (
                Write(w => WireFormat.Write(w, Node1)),
                p =>
                {
                    var r = new MessageReader(p);
                    NodeRecord x = WireFormat.ReadNodeRecord(ref r);
                    r.ExpectEnd();
                    return Write(w => WireFormat.Write(w, x));
                }),
            ["WireFormat.ReadSlice"] = (
                Write(w => WireFormat.Write(w, Slice1)),
                p =>
                {
                    var r = new MessageReader(p);
                    PieSlice x = WireFormat.ReadSlice(ref r);
                    r.ExpectEnd();
                    return Write(w => WireFormat.Write(w, x));
                }),
            ["WireFormat.ReadRecord"] = (
                Write(w => WireFormat.Write(w, Record1)),
                p =>
                {
                    var r = new MessageReader(p);
                    StorageRecord x = WireFormat.ReadRecord(ref r);
                    r.ExpectEnd();
                    return Write(w => WireFormat.Write(w, x));
                }),
            ["WireFormat.ReadIds"] = (
                Write(w => WireFormat.WriteIds(w, [A, B, C])),
                p =>
                {
                    var r = new MessageReader(p);
                    ImmutableArray<NodeId> x = WireFormat.ReadIds(ref r);
                    r.ExpectEnd();
                    return Write(w => WireFormat.WriteIds(w, x));
                }),
        };

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (string name in All.Keys)
        {
            data.Add(name);
        }

        return data;
    }

    private static byte[] Write(Action<MessageWriter> write)
    {
        var writer = new MessageWriter();
        write(writer);
        return writer.ToArray();
    }
}
