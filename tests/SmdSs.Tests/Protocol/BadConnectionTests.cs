using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Tests.Support;
using SmdSs.Transport;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// Invariant 7, "bad input is harmless", against a real started node over raw sockets: each kind
/// of bad input closes that one connection with a logged reason, and the node keeps serving a
/// well-behaved peer (on a connection opened before the bad input and on a new one) and its own
/// key-value API.
/// </summary>
public sealed class BadConnectionTests
{
    private const int MaxValueBytes = 1 << 20;
    private const int MaxFrameBytes = MaxValueBytes + SmdSsLimits.MaxKeyBytes + (2 << 20);

    public static TheoryData<string> Scenarios => new()
    {
        "garbage-seed-1",
        "garbage-seed-2",
        "garbage-seed-3",
        "framed-garbage-hello",
        "version-9",
        "length-0xFFFFFFF0",
        "length-over-max",
        "length-under-10",
        "truncated-then-close",
        "ping-before-hello",
        "proof-before-hello",
        "hello-truncated-payload",
        "hello-invalid-utf8-endpoint",
        "hello-trailing-bytes",
        "wrong-secret-proof",
        "missing-secret-proof",
        "empty-proof",
        "ping-instead-of-proof",
        "hello-with-the-nodes-own-id",
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Bad_input_closes_that_connection_with_a_logged_reason_and_the_node_keeps_serving(string scenario)
    {
        await using LoggedNode node = await LoggedNode.StartAsync(o => o.MaxValueBytes = MaxValueBytes);

        // A peer that is connected before the bad input arrives (both pooled connections open).
        NodeId earlierId = NodeId.NewRandom(Random.Shared);
        await using TcpPeerTransport earlier = Wire.Transport(earlierId, LoggedNode.Secret);
        await Wire.PingAsync(earlier, earlierId, node);
        await Wire.PingAsync(earlier, earlierId, node);

        using TcpClient bad = await Wire.ConnectAsync(node);
        (string reason, bool lastWordIsAnError, byte[] alreadyRead) = await PlayAsync(scenario, bad, node);
        byte[] received = [.. alreadyRead, .. await Wire.ReadUntilClosedAsync(bad)];

        await node.WaitForRefusalAsync(reason);
        if (lastWordIsAnError)
        {
            ErrorReply refusal = Wire.SingleRefusal(received);
            Assert.Contains(reason, refusal.Message, StringComparison.Ordinal);
        }

        await Wire.PingAsync(earlier, earlierId, node);
        await Wire.PingAsync(earlier, earlierId, node);
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }

    [Fact]
    public async Task Many_bad_connections_at_once_leave_the_node_serving()
    {
        await using LoggedNode node = await LoggedNode.StartAsync(o => o.MaxValueBytes = MaxValueBytes);
        var random = new Random(42);
        List<byte[]> inputs = [];
        for (int i = 0; i < 20; i++)
        {
            byte[] garbage = new byte[random.Next(1, 2048)];
            random.NextBytes(garbage);
            inputs.Add(garbage);
        }

        await Task.WhenAll(inputs.Select(async input =>
        {
            using TcpClient client = await Wire.ConnectAsync(node);
            await Wire.SendAsync(client, input);
            try
            {
                // A frame the garbage happens to start may wait for more bytes: end it.
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // Already reset by the node.
            }

            await Wire.ReadUntilClosedAsync(client);
        }));

        // Refusals are logged at most ten a second; the rest are counted for the next one logged.
        await Eventually.TrueAsync(() => node.RefusalReasons.Count >= 10, TimeSpan.FromSeconds(5), "the bad connections logged");
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }

    [Theory]
    [InlineData("wrong-secret-0123456789")]
    [InlineData(null)]
    public async Task A_peer_with_a_wrong_or_missing_secret_is_refused_and_the_node_keeps_serving(string? secret)
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        NodeId id = NodeId.NewRandom(Random.Shared);
        await using (TcpPeerTransport wrong = Wire.Transport(id, secret))
        {
            var ex = await Assert.ThrowsAsync<PeerUnavailableException>(() =>
                wrong.SendAsync(node.Endpoint, MessageType.Ping, Messages.EncodeNode(Wire.RecordOf(id)), TimeSpan.FromSeconds(5), CancellationToken.None));
            Assert.Contains("refused: wrong or missing cluster secret", ex.Message, StringComparison.Ordinal);
        }

        // The client proves first: the node refuses its proof, and sent it nothing computed from the secret.
        await node.WaitForRefusalAsync("wrong or missing cluster secret");
        Assert.Null(node.Node.Nodes.Find(id));
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }

    private static async Task<(string Reason, bool LastWordIsAnError, byte[] AlreadyRead)> PlayAsync(string scenario, TcpClient client, LoggedNode node)
    {
        NodeId clientId = NodeId.NewRandom(Random.Shared);
        byte[] nonce = Handshake.NewNonce();
        byte[] hello = FrameCodec.Encode(MessageType.Hello, 1, Wire.HelloPayload(clientId, "127.0.0.1:1", nonce));
        switch (scenario)
        {
            case "garbage-seed-1" or "garbage-seed-2" or "garbage-seed-3":
            {
                byte[] garbage = new byte[4096];
                new Random(scenario[^1]).NextBytes(garbage);
                // Out-of-range length prefix: the node refuses on the first 4 bytes, so part of
                // the garbage may still be unread when it closes (a reset may eat its Error).
                BinaryPrimitives.WriteUInt32LittleEndian(garbage, BinaryPrimitives.ReadUInt32LittleEndian(garbage) | 0x8000_0000);
                await Wire.SendAsync(client, garbage);
                return ("frame length", false, []);
            }

            case "framed-garbage-hello":
            {
                byte[] payload = new byte[200];
                new Random(11).NextBytes(payload);
                payload[8] = 0xFF; // endpoint length 0x..FF: longer than what follows
                payload[9] = 0xFF;
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Hello, 1, payload));
                return ("payload ends early", true, []);
            }

            case "version-9":
                hello[4] = 9;
                await Wire.SendAsync(client, hello);
                return ("unknown protocol version 9", true, []);
            case "length-0xFFFFFFF0":
                await Wire.SendAsync(client, [0xF0, 0xFF, 0xFF, 0xFF]);
                return ("frame length 4294967280 outside", true, []);
            case "length-over-max":
            {
                byte[] header = new byte[FrameCodec.PrefixBytes + FrameCodec.HeaderBytes];
                BinaryPrimitives.WriteUInt32LittleEndian(header, MaxFrameBytes + 1u);
                header[4] = FrameCodec.ProtocolVersion;
                header[5] = (byte)MessageType.Hello;
                await Wire.SendAsync(client, header);
                // Before the handshake only handshake-sized frames (4 KiB) are accepted at all.
                return ($"frame length {MaxFrameBytes + 1} outside 10..4096", true, []);
            }

            case "length-under-10":
                await Wire.SendAsync(client, [9, 0, 0, 0, FrameCodec.ProtocolVersion, (byte)MessageType.Hello, 0, 0, 0]);
                return ("frame length 9 outside", true, []);
            case "truncated-then-close":
                await Wire.SendAsync(client, hello[..(hello.Length - 3)]);
                client.Client.Shutdown(SocketShutdown.Send);
                return ("connection closed inside a frame", true, []);
            case "ping-before-hello":
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Ping, 1, Messages.EncodeNode(Wire.RecordOf(clientId))));
                return ("expected Hello first, got message type 20", true, []);
            case "proof-before-hello":
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.HelloProof, 1, new byte[32]));
                return ("expected Hello first, got message type 3", true, []);
            case "hello-truncated-payload":
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Hello, 1, Wire.HelloPayload(clientId, "127.0.0.1:1", nonce).AsSpan(0, 20)));
                return ("payload ends early", true, []);
            case "hello-invalid-utf8-endpoint":
            {
                byte[] payload = [.. new MessageWriter().U64(clientId.Value).ToArray(), 2, 0, 0xC3, 0x28, .. nonce];
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Hello, 1, payload));
                return ("not valid UTF-8", true, []);
            }

            case "hello-trailing-bytes":
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Hello, 1, [.. Wire.HelloPayload(clientId, "127.0.0.1:1", nonce), 7]));
                return ("unexpected bytes after the message", true, []);
            case "wrong-secret-proof" or "missing-secret-proof" or "empty-proof" or "ping-instead-of-proof":
            {
                await Wire.SendAsync(client, hello);
                var pending = new ArrayBufferWriter<byte>();
                Frame challenge = await Wire.ReadFrameAsync(client, pending) ?? throw new InvalidOperationException("no HelloChallenge");
                Assert.Equal(MessageType.HelloChallenge, challenge.Type);
                Wire.ReadChallenge(challenge, node);
                byte[] helloPayload = Wire.HelloPayload(clientId, "127.0.0.1:1", nonce);
                byte[] proof = scenario switch
                {
                    "wrong-secret-proof" => new Handshake("wrong-secret-0123456789").ClientProof(helloPayload, challenge.Payload),
                    "missing-secret-proof" => new Handshake(null).ClientProof(helloPayload, challenge.Payload),
                    _ => [],
                };
                MessageType type = scenario == "ping-instead-of-proof" ? MessageType.Ping : MessageType.HelloProof;
                byte[] payload = type == MessageType.Ping ? Messages.EncodeNode(Wire.RecordOf(clientId)) : proof;
                await Wire.SendAsync(client, FrameCodec.Encode(type, 2, payload));
                return ("wrong or missing cluster secret", true, pending.WrittenSpan.ToArray());
            }

            case "hello-with-the-nodes-own-id":
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Hello, 1, Wire.HelloPayload(node.Node.Self, "127.0.0.1:1", nonce)));
                return ("two nodes share one node id", true, []);
            default:
                throw new ArgumentOutOfRangeException(nameof(scenario), scenario, "unknown scenario");
        }
    }
}
