using System.Buffers;
using System.Net.Sockets;
using SmdSs.Membership;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// Bad input from an authenticated peer: a malformed payload or an unknown message type gets an
/// Error reply (the connection stays usable); a broken frame closes the connection. Either way
/// the node keeps serving.
/// </summary>
public sealed class AuthenticatedBadInputTests
{
    [Fact]
    public async Task A_malformed_request_gets_a_BadRequest_error_and_the_connection_stays_usable()
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        using TcpClient client = await Wire.ConnectAsync(node);
        (NodeId id, ArrayBufferWriter<byte> pending) = await HandshakeAsync(client, node);

        (MessageType Type, byte[] Payload)[] badRequests =
        [
            (MessageType.Ping, Messages.EncodeNode(Wire.RecordOf(id))[..10]),
            (MessageType.Ping, [.. Messages.EncodeNode(Wire.RecordOf(id)), 1]),
            (MessageType.SyncDigest, new byte[3]),
            (MessageType.SyncDelta, new MessageWriter().U32(0x7FFF_FFFF).ToArray()),
            (MessageType.Get, [0xFF, 0xFF, 1]),
            (MessageType.Set, new MessageWriter().String("k").I64(0).I64(0).I64(0).U32(uint.MaxValue).ToArray()),
            (MessageType.Replicate, new MessageWriter().U32(0).I64(1).U32(1_000_000).ToArray()),
            (MessageType.LeaseRequest, [1, 2, 3]),
            (MessageType.Goodbye, new MessageWriter().U32(uint.MaxValue).ToArray()),
            ((MessageType)200, []),
            (MessageType.Hello, Wire.HelloPayload(id, "127.0.0.1:1", Handshake.NewNonce())),
        ];

        ulong requestId = 100;
        foreach ((MessageType type, byte[] payload) in badRequests)
        {
            requestId++;
            await Wire.SendAsync(client, FrameCodec.Encode(type, requestId, payload));
            Frame reply = await Wire.ReadFrameAsync(client, pending) ?? throw new InvalidOperationException($"connection closed after a bad {type}");
            Assert.Equal(requestId, reply.RequestId);
            Assert.Equal(MessageType.Error, reply.Type);
            Assert.Equal(ErrorCode.BadRequest, ErrorReply.Read(reply.Payload).Code);
        }

        // Same connection, good request.
        await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Ping, 999, Messages.EncodeNode(Wire.RecordOf(id))));
        Frame ok = await Wire.ReadFrameAsync(client, pending) ?? throw new InvalidOperationException("connection closed");
        Assert.Equal(MessageType.Ok, ok.Type);
        Assert.Equal(999UL, ok.RequestId);
        Assert.Equal(node.Node.Self, Messages.DecodeNode(ok.Payload).Id);

        Assert.Empty(node.RefusalReasons);
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }

    [Theory]
    [InlineData("version-9")]
    [InlineData("length-0xFFFFFFF0")]
    [InlineData("truncated-then-close")]
    public async Task A_broken_frame_after_the_handshake_closes_that_connection_and_the_node_keeps_serving(string scenario)
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        using TcpClient client = await Wire.ConnectAsync(node);
        (NodeId id, ArrayBufferWriter<byte> pending) = await HandshakeAsync(client, node);
        byte[] ping = FrameCodec.Encode(MessageType.Ping, 5, Messages.EncodeNode(Wire.RecordOf(id)));

        string reason;
        switch (scenario)
        {
            case "version-9":
                ping[4] = 9;
                await Wire.SendAsync(client, ping);
                reason = "unknown protocol version 9";
                break;
            case "length-0xFFFFFFF0":
                await Wire.SendAsync(client, [0xF0, 0xFF, 0xFF, 0xFF]);
                reason = "frame length 4294967280";
                break;
            default:
                await Wire.SendAsync(client, ping[..^1]);
                client.Client.Shutdown(SocketShutdown.Send);
                reason = "connection closed inside a frame";
                break;
        }

        byte[] before = pending.WrittenSpan.ToArray();
        byte[] received = [.. before, .. await Wire.ReadUntilClosedAsync(client)];
        await node.WaitForRefusalAsync(reason);
        Assert.Contains(reason, Wire.SingleRefusal(received).Message, StringComparison.Ordinal);
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }

    /// <summary>The client side of the handshake, by hand.</summary>
    internal static async Task<(NodeId Id, ArrayBufferWriter<byte> Pending)> HandshakeAsync(TcpClient client, LoggedNode node)
    {
        NodeId id = NodeId.NewRandom();
        byte[] nonce = Handshake.NewNonce();
        var pending = new ArrayBufferWriter<byte>();
        await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Hello, 1, Wire.HelloPayload(id, "127.0.0.1:1", nonce)));
        Frame challenge = await Wire.ReadFrameAsync(client, pending) ?? throw new InvalidOperationException("no HelloChallenge");
        Assert.Equal(MessageType.HelloChallenge, challenge.Type);
        byte[] serverNonce = BadConnectionTests.ReadChallenge(challenge, node, nonce, id);
        byte[] proof = new Handshake(LoggedNode.Secret).ClientProof(serverNonce, nonce, id, node.Node.Self);
        await Wire.SendAsync(client, FrameCodec.Encode(MessageType.HelloProof, 2, proof));
        Frame ok = await Wire.ReadFrameAsync(client, pending) ?? throw new InvalidOperationException("no HelloOk");
        Assert.Equal(MessageType.HelloOk, ok.Type);
        return (id, pending);
    }
}
