using System.Buffers.Binary;
using System.Net.Sockets;
using SmdSs.Model;
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
        using HandClient client = await HandClient.ConnectAsync(node);
        NodeId id = client.Id;

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
            await client.SendAsync(type, requestId, payload);
            Frame reply = await client.ReadFrameAsync() ?? throw new InvalidOperationException($"connection closed after a bad {type}");
            Assert.Equal(requestId, reply.RequestId);
            Assert.Equal(MessageType.Error, reply.Type);
            Assert.Equal(ErrorCode.BadRequest, ErrorReply.Read(reply.Payload).Code);
        }

        // Same connection, good request.
        await client.SendAsync(MessageType.Ping, 999, Messages.EncodeNode(Wire.RecordOf(id)));
        Frame ok = await client.ReadFrameAsync() ?? throw new InvalidOperationException("connection closed");
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
    [InlineData("tampered-ciphertext")]
    [InlineData("tampered-tag")]
    [InlineData("tampered-length")]
    [InlineData("replayed")]
    [InlineData("reordered")]
    [InlineData("dropped")]
    [InlineData("injected-in-clear")]
    [InlineData("sealed-with-another-connections-keys")]
    public async Task A_broken_frame_after_the_handshake_closes_that_connection_and_the_node_keeps_serving(string scenario)
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        using HandClient hand = await HandClient.ConnectAsync(node);
        TcpClient client = hand.Client;
        byte[] pingPayload = Messages.EncodeNode(Wire.RecordOf(hand.Id));
        const string NotAuthentic = "a frame failed authentication (modified, replayed, reordered or injected)";

        string reason = NotAuthentic;
        int answersBefore = 0;
        switch (scenario)
        {
            case "version-9":
            {
                byte[] body = FrameCodec.Encode(MessageType.Ping, 5, pingPayload)[FrameCodec.PrefixBytes..];
                body[0] = 9;
                await Wire.SendAsync(client, hand.EncodeBody(body));
                reason = "unknown protocol version 9";
                break;
            }

            case "length-0xFFFFFFF0":
                await Wire.SendAsync(client, [0xF0, 0xFF, 0xFF, 0xFF]);
                reason = "frame length 4294967280";
                break;
            case "truncated-then-close":
                await Wire.SendAsync(client, hand.Encode(MessageType.Ping, 5, pingPayload)[..^1]);
                client.Client.Shutdown(SocketShutdown.Send);
                reason = "connection closed inside a frame";
                break;
            case "tampered-ciphertext" or "tampered-tag" or "tampered-length":
            {
                byte[] ping = hand.Encode(MessageType.Ping, 5, [.. pingPayload, .. new byte[8]]);
                if (scenario == "tampered-length")
                {
                    // A shorter length still frames a whole (wrong) frame, which then fails its tag.
                    BinaryPrimitives.WriteUInt32LittleEndian(ping, BinaryPrimitives.ReadUInt32LittleEndian(ping) - 4);
                }
                else
                {
                    ping[scenario == "tampered-ciphertext" ? 20 : ping.Length - 1] ^= 0x01;
                }

                await Wire.SendAsync(client, ping);
                break;
            }

            case "replayed":
            {
                byte[] ping = hand.Encode(MessageType.Ping, 5, pingPayload);
                await Wire.SendAsync(client, ping);
                await Wire.SendAsync(client, ping);
                answersBefore = 1;
                break;
            }

            case "reordered" or "dropped":
            {
                byte[] first = hand.Encode(MessageType.Ping, 5, pingPayload);
                byte[] second = hand.Encode(MessageType.Ping, 6, pingPayload);
                await Wire.SendAsync(client, scenario == "reordered" ? [.. second, .. first] : second);
                break;
            }

            case "injected-in-clear":
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Ping, 5, pingPayload));
                break;
            default:
            {
                using HandClient other = await HandClient.ConnectAsync(node);
                await Wire.SendAsync(client, other.Encode(MessageType.Ping, 5, pingPayload));
                break;
            }
        }

        byte[] before = hand.Pending.WrittenSpan.ToArray();
        byte[] received = [.. before, .. await Wire.ReadUntilClosedAsync(client)];
        await node.WaitForRefusalAsync(reason);
        List<Frame> frames = hand.Frames(received);
        Assert.Equal(answersBefore + 1, frames.Count);
        Assert.All(frames.Take(answersBefore), f => Assert.Equal(MessageType.Ok, f.Type));
        Assert.Equal(MessageType.Error, frames[^1].Type);
        ErrorReply refusal = ErrorReply.Read(frames[^1].Payload);
        Assert.Equal(ErrorCode.Refused, refusal.Code);
        Assert.Contains(reason, refusal.Message, StringComparison.Ordinal);
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }
}
