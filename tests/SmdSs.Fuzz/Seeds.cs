using System.Collections.Immutable;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs.Fuzz;

/// <summary>A valid input for each parser, from which the fuzzer starts (written to the corpus folder by <c>--seeds</c>).</summary>
internal static class Seeds
{
    public static IEnumerable<(string Name, byte[] Input)> All()
    {
        var a = new NodeId(0x1111_2222_3333_4444UL);
        var b = new NodeId(0x5555_6666_7777_8888UL);
        var node = new NodeRecord(a, "127.0.0.1:7400", NodeState.Up, 3L << 20, 17, 1234);
        var slice = new PieSlice(new SliceRange(0, 0x0FFF_FFFF), 7, [a, b], [a]);
        var put = new StorageRecord(RecordKind.Put, "user:42", 99, new EntryExpiry(1_000, 2_000, 3_000), [1, 2, 3]);
        var delete = new StorageRecord(RecordKind.Delete, "k", 100, EntryExpiry.None, []);
        var records = new SliceRecordsMessage(0, 7, [put, delete], [new OperationAnswer(5, 6, [7])]);

        byte[] ping = Messages.EncodeNode(node);
        yield return ("frame-ping", [0, .. FrameCodec.Encode(MessageType.Ping, 1, ping)]);
        yield return ("frames-two", [0, .. FrameCodec.Encode(MessageType.Get, 2, [1, 2]), .. FrameCodec.Encode(MessageType.Ok, 2, [])]);
        yield return ("sealed-body", [1, .. FrameCodec.Encode(MessageType.Replicate, 3, Messages.Encode(records))[FrameCodec.PrefixBytes..]]);

        byte[][] payloads =
        [
            Messages.Encode(new SyncDigestMessage(node, new UInt128(1, 2), new UInt128(3, 4))),
            Messages.Encode(new SyncSummaryMessage([new NodeSummary(a, 1, NodeState.Up, 2, 0)], [new SliceSummary(0, 5, a.Value, 6)])),
            Messages.Encode(new SyncDeltaMessage([node], [slice], [a], [0u])),
            Messages.Encode(records),
            Messages.EncodeCatchUp(42, records),
            Messages.Encode(new SliceQueryMessage(0, 7, [1, 2], ["k", "user:42"])),
            Messages.EncodeDigests([.. Enumerable.Range(0, KeyBuckets.Count).Select(i => (ulong)i)]),
            Messages.Encode(new ForwardedOperation("cart", new EntryExpiry(5, 6, 7), [9])),
            ping,
            Messages.EncodeStarts([(0u, 1L), (0x4000_0000u, 2L)]),
            Messages.Encode(new NodeStatsMessage(a, 4, 123_456, 3_000, 1_000, 5L << 30, 1L << 20, 6, 10, 99, new UInt128(7, 8), new UInt128(9, 10))),
            ComputeMessages.Encode(new AtomicRequest(AtomicKind.Increment, "counter", 9, EntryExpiry.None, 1, "", [])),
            ComputeMessages.Encode(new MapSliceRequest("smdss.count", [], 0, 0x0FFF_FFFF)),
            ComputeMessages.EncodeClaim(ClaimOutcome.Found, 17, [1, 2, 3]),
            new ErrorReply(ErrorCode.NotPrimary, "not the primary").Encode(),
        ];
        for (int i = 0; i < payloads.Length; i++)
        {
            yield return ($"decoder-{i:00}", [2, (byte)i, .. payloads[i]]);
        }

        byte[] hello = Handshake.HelloPayload(a, "127.0.0.1:7400", new byte[Handshake.NonceBytes]);
        byte[] challenge = Handshake.ChallengePayload(b, new byte[Handshake.NonceBytes]);
        yield return ("handshake", [3, (byte)hello.Length, .. hello, .. challenge, .. new byte[32]]);
        yield return ("handshake-no-proof", [3, (byte)hello.Length, .. hello, .. challenge]);

        yield return ("slice-file", [4, .. RecordCodec.Encode(put.Kind, put.Key, put.Version, put.Expiry, put.Value), .. RecordCodec.Encode(delete.Kind, delete.Key, delete.Version, delete.Expiry, delete.Value)]);
    }
}
