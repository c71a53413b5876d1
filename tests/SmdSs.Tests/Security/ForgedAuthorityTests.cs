using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Replication;
using SmdSs.Tests.Protocol;
using SmdSs.Transport;

namespace SmdSs.Tests.Security;

/// <summary>
/// A peer that knows the cluster secret is authenticated, not omnipotent: each forged-authority
/// message is refused (numbers out of bounds: with a logged reason and the connection closed;
/// slice data without the authority to send it: answered "stale epoch"), nothing of it applied,
/// and the node's data stays readable.
/// </summary>
public sealed class ForgedAuthorityTests
{
    private const string Key = "precious";
    private static readonly byte[] Value = [1, 2, 3, 4];

    public static TheoryData<string> Forgeries => new()
    {
        "snapshot-wiping-a-slice-the-node-leads",
        "delta-begin-on-a-slice-the-node-leads",
        "replicated-write-from-a-node-that-is-not-primary",
        "replicated-write-claiming-a-newer-epoch",
        "write-version-far-ahead-of-the-clock",
        "write-version-long-max",
        "incarnation-long-max",
        "incarnation-jump-about-the-node-itself",
        "node-gone-since-far-ahead-of-the-clock",
        "node-down-without-the-time-it-went",
        "slice-epoch-long-max",
    };

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_forged_authority_message_is_refused_the_connection_closed_and_the_data_stays(string forgery)
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        await node.Node.SetAsync(Key, Value);
        PieSlice slice = node.Node.SliceMap!.Find(KeyHash.Of(Key));
        using HandClient client = await HandClient.ConnectAsync(node);
        long nowMs = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        long fairVersion = HybridTimestamp.FirstVersionAt(nowMs + 1);

        // Bounds are refused with the connection closed; slice data without authority is answered
        // "stale epoch" (what a deposed primary hears too: a handover can race its writes).
        (MessageType type, byte[] payload, string reason, bool closes) = forgery switch
        {
            "snapshot-wiping-a-slice-the-node-leads" => (MessageType.SnapshotBegin, CatchUp(slice, slice.Epoch + 1), "could not be asked", false),
            "delta-begin-on-a-slice-the-node-leads" => (MessageType.DeltaBegin, CatchUp(slice, slice.Epoch), "which this node leads", false),
            "replicated-write-from-a-node-that-is-not-primary" => (MessageType.Replicate, Records(slice, slice.Epoch, Put(fairVersion)), $"with primary {node.Node.Self}", false),
            "replicated-write-claiming-a-newer-epoch" => (MessageType.Replicate, Records(slice, slice.Epoch + 5, Put(fairVersion)), "could not be asked", false),
            "write-version-far-ahead-of-the-clock" => (MessageType.Replicate, Records(slice, slice.Epoch, Put(HybridTimestamp.FirstVersionAt(nowMs + (2 * 3600 * 1000)))), "ahead of this node's clock", true),
            "write-version-long-max" => (MessageType.Replicate, Records(slice, slice.Epoch, Put(long.MaxValue)), "ahead of this node's clock", true),
            "incarnation-long-max" => (MessageType.Ping, Messages.EncodeNode(Wire.RecordOf(client.Id) with { Incarnation = long.MaxValue }), "outside 0..2^52", true),
            "incarnation-jump-about-the-node-itself" => (MessageType.SyncDelta, Messages.Encode(new SyncDeltaMessage(
                [Wire.RecordOf(client.Id), new NodeRecord(node.Node.Self, node.Endpoint, NodeState.Down, PeerClaims.MaxIncarnation, 0, 0)], [], [], [])), "jumps more than 2^44", true),
            "node-gone-since-far-ahead-of-the-clock" => (MessageType.SyncDelta, Messages.Encode(new SyncDeltaMessage(
                [Wire.RecordOf(client.Id), new NodeRecord(new NodeId(77), "127.0.0.1:2", NodeState.Left, 1L << 20, 0, 0, nowMs + (2 * 3600 * 1000))], [], [], [])), "more than an hour ahead", true),
            "node-down-without-the-time-it-went" => (MessageType.SyncDelta, Messages.Encode(new SyncDeltaMessage(
                [Wire.RecordOf(client.Id), new NodeRecord(new NodeId(78), "127.0.0.1:3", NodeState.Down, 1L << 20, 0, 0)], [], [], [])), "Down with time gone 0", true),
            _ => (MessageType.SyncDelta, Messages.Encode(new SyncDeltaMessage(
                [Wire.RecordOf(client.Id)], [slice with { Epoch = long.MaxValue, Replicas = [client.Id], InSync = [client.Id] }], [], [])), "outside 0..2^48", true),
        };

        await client.SendAsync(type, 5, payload);
        Frame refusal = await client.ReadFrameAsync() ?? throw new InvalidOperationException("closed without an answer");
        Assert.Equal(MessageType.Error, refusal.Type);
        ErrorReply error = ErrorReply.Read(refusal.Payload);
        Assert.Equal(closes ? ErrorCode.Refused : ErrorCode.StaleEpoch, error.Code);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        if (closes)
        {
            await node.WaitForRefusalAsync(reason);
            Assert.Null(await client.ReadFrameAsync());
        }
        else
        {
            await client.SendAsync(MessageType.Ping, 6, Messages.EncodeNode(Wire.RecordOf(client.Id)));
            Assert.Equal(MessageType.Ok, (await client.ReadFrameAsync())!.Value.Type);
        }

        // Nothing of it applied: the value, the slice, the node's own record are as they were.
        Assert.Equal(Value, await node.Node.GetAsync(Key));
        Assert.Equal(slice, node.Node.SliceMap!.Find(KeyHash.Of(Key)));
        Assert.Equal(NodeState.Up, node.Node.Nodes.Find(node.Node.Self)!.State);
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }

    private static StorageRecord Put(long version) => new(RecordKind.Put, Key, version, EntryExpiry.None, [6, 6, 6]);

    private static byte[] CatchUp(PieSlice slice, long epoch) => Messages.EncodeCatchUp(long.MaxValue, new SliceRecordsMessage(slice.Range.Start, epoch, []));

    private static byte[] Records(PieSlice slice, long epoch, params StorageRecord[] records) =>
        Messages.Encode(new SliceRecordsMessage(slice.Range.Start, epoch, records));
}
