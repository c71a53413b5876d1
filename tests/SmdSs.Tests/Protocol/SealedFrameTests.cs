using System.Buffers;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// The handshake's proofs and the sealing of frames, as pure code: what each side computes, which
/// secrets match, and that a sealed stream carries no plaintext and refuses any frame that is not
/// the next one its sender sealed.
/// </summary>
public sealed class SealedFrameTests
{
    private const string Old = "b2xkLWNsdXN0ZXItc2VjcmV0LTAxMjM0NTY3ODlhYmM=";
    private const string New = "bmV3LWNsdXN0ZXItc2VjcmV0LTAxMjM0NTY3ODlhYmM=";
    private const int Max = 1 << 20;

    [Fact]
    public void Sealed_frames_round_trip_in_order_also_when_they_arrive_a_byte_at_a_time()
    {
        (FrameSealer send, FrameSealer receive) = Pair(new Handshake(New), new Handshake(New));
        var wire = new ArrayBufferWriter<byte>();
        var sent = new List<(MessageType Type, ulong Id, byte[] Payload)>();
        var random = new Random(5);
        for (int i = 0; i < 50; i++)
        {
            byte[] payload = new byte[random.Next(0, 3000)];
            random.NextBytes(payload);
            sent.Add((MessageType.Set, (ulong)i, payload));
            send.Write(wire, MessageType.Set, (ulong)i, payload);
        }

        byte[] bytes = wire.WrittenSpan.ToArray();
        var received = new List<Frame>();
        int consumed = 0;
        for (int available = 1; available <= bytes.Length; available++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, consumed, available - consumed);
            while (receive.TryRead(ref buffer, Max, out Frame frame))
            {
                received.Add(frame);
                consumed = available - (int)buffer.Length;
            }
        }

        Assert.Equal(sent.Count, received.Count);
        for (int i = 0; i < sent.Count; i++)
        {
            Assert.Equal(sent[i].Type, received[i].Type);
            Assert.Equal(sent[i].Id, received[i].RequestId);
            Assert.Equal(sent[i].Payload, received[i].Payload);
        }
    }

    [Fact]
    public void A_sealed_frame_split_over_many_buffer_segments_is_read_whole()
    {
        (FrameSealer send, FrameSealer receive) = Pair(new Handshake(New), new Handshake(New));
        var wire = new ArrayBufferWriter<byte>();
        byte[] payload = [.. Enumerable.Range(0, 5000).Select(i => (byte)i)];
        send.Write(wire, MessageType.Set, 77, payload);
        send.Write(wire, MessageType.Get, 78, [1]);
        byte[] bytes = wire.WrittenSpan.ToArray();
        // Segments of 1, 2, 3, ... bytes: the length prefix, the ciphertext and the tag all cross segment edges.
        var chunks = new List<byte[]>();
        for (int at = 0, size = 1; at < bytes.Length; at += size, size++)
        {
            chunks.Add(bytes[at..Math.Min(bytes.Length, at + size)]);
        }

        ReadOnlySequence<byte> buffer = BufferSegments.Of([.. chunks]);
        Assert.True(receive.TryRead(ref buffer, Max, out Frame first));
        Assert.True(receive.TryRead(ref buffer, Max, out Frame second));
        Assert.Equal((MessageType.Set, 77UL), (first.Type, first.RequestId));
        Assert.Equal(payload, first.Payload);
        Assert.Equal((MessageType.Get, 78UL), (second.Type, second.RequestId));
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void A_sealed_frame_carries_none_of_its_payloads_bytes()
    {
        (FrameSealer send, _) = Pair(new Handshake(New), new Handshake(New));
        byte[] distinctive = "ZEBRA-7f3a9c-SESSION-VALUE-OF-A-USER"u8.ToArray();
        var wire = new ArrayBufferWriter<byte>();
        for (int i = 0; i < 100; i++)
        {
            send.Write(wire, MessageType.Set, (ulong)i, [.. distinctive, .. distinctive]);
        }

        Assert.True(wire.WrittenSpan.IndexOf(distinctive.AsSpan(0, 8)) < 0, "8 bytes of the value appear on the wire");
    }

    [Theory]
    [InlineData("replayed")]
    [InlineData("reordered")]
    [InlineData("dropped")]
    [InlineData("bit-flipped")]
    [InlineData("reflected")]
    [InlineData("other-connection")]
    public void A_frame_that_is_not_the_next_one_sealed_fails_authentication(string fault)
    {
        var a = new Handshake(New);
        (FrameSealer send, FrameSealer receive, FrameSealer reverseSend) = Connection(a, a);
        byte[] first = Seal(send, 1);
        byte[] second = Seal(send, 2);
        byte[] wire = fault switch
        {
            "replayed" => [.. first, .. first],
            "reordered" => [.. second, .. first],
            "dropped" => second,
            "bit-flipped" => Flip(first, 30),
            // The server's own frame (same connection, other direction, same sequence number) sent back to it.
            "reflected" => Seal(reverseSend, 1),
            _ => Seal(Pair(a, a).Send, 1),
        };

        var buffer = new ReadOnlySequence<byte>(wire);
        ProtocolException ex = Assert.Throws<ProtocolException>(() =>
        {
            while (receive.TryRead(ref buffer, Max, out _))
            {
            }
        });
        Assert.Contains("failed authentication", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_server_accepts_its_secret_and_its_additional_secrets_and_answers_with_the_one_that_matched()
    {
        var server = new Handshake(New, [Old]);
        byte[] hello = Handshake.HelloPayload(new NodeId(1), "127.0.0.1:1", Handshake.NewNonce());
        byte[] challenge = Handshake.ChallengePayload(new NodeId(2), Handshake.NewNonce());

        Assert.Equal(0, server.MatchClientProof(hello, challenge, new Handshake(New).ClientProof(hello, challenge)));
        var oldClient = new Handshake(Old, [New]);
        byte[] oldProof = oldClient.ClientProof(hello, challenge);
        Assert.Equal(1, server.MatchClientProof(hello, challenge, oldProof));
        Assert.True(oldClient.ServerProofMatches(hello, challenge, oldProof, server.ServerProof(1, hello, challenge, oldProof)));
        Assert.False(oldClient.ServerProofMatches(hello, challenge, oldProof, server.ServerProof(0, hello, challenge, oldProof)));

        Assert.Equal(-1, server.MatchClientProof(hello, challenge, new Handshake("a-third-secret-0123456789").ClientProof(hello, challenge)));
        Assert.Equal(-1, server.MatchClientProof(hello, challenge, new Handshake(null).ClientProof(hello, challenge)));
        Assert.Equal(-1, new Handshake(null).MatchClientProof(hello, challenge, oldProof));
        // A proof is bound to this exchange: another challenge, or another hello, does not take it.
        byte[] otherChallenge = Handshake.ChallengePayload(new NodeId(2), Handshake.NewNonce());
        Assert.Equal(-1, server.MatchClientProof(hello, otherChallenge, oldProof));
        byte[] otherHello = Handshake.HelloPayload(new NodeId(1), "127.0.0.1:2", Handshake.NewNonce());
        Assert.Equal(-1, server.MatchClientProof(otherHello, challenge, oldProof));
    }

    [Fact]
    public void A_client_on_an_additional_secret_and_its_server_seal_with_the_same_keys()
    {
        var client = new Handshake(Old);
        var server = new Handshake(New, [Old]);
        byte[] clientNonce = Handshake.NewNonce();
        byte[] serverNonce = Handshake.NewNonce();
        byte[] hello = Handshake.HelloPayload(new NodeId(1), "127.0.0.1:1", clientNonce);
        byte[] challenge = Handshake.ChallengePayload(new NodeId(2), serverNonce);
        int matched = server.MatchClientProof(hello, challenge, client.ClientProof(hello, challenge));
        (FrameSealer clientSend, FrameSealer clientReceive) = client.Sealers(0, clientNonce, serverNonce, hello, challenge);
        (FrameSealer serverReceive, FrameSealer serverSend) = server.Sealers(matched, clientNonce, serverNonce, hello, challenge);

        Assert.Equal([7], Open(serverReceive, Seal(clientSend, 7)).Payload);
        Assert.Equal([9], Open(clientReceive, Seal(serverSend, 9)).Payload);
    }

    [Fact]
    public void A_base64_key_of_32_bytes_is_the_key_and_any_other_secret_is_stretched()
    {
        byte[] raw = Convert.FromBase64String(New);
        Assert.Equal(raw, ClusterKey.FromSecret(New));
        byte[] stretched = ClusterKey.FromSecret("correct horse battery staple");
        Assert.Equal(32, stretched.Length);
        Assert.Equal(stretched, ClusterKey.FromSecret("correct horse battery staple"));
        Assert.NotEqual(stretched, ClusterKey.FromSecret("correct horse battery stapler"));
        // Base64 of another length is a passphrase like any other.
        Assert.Equal(32, ClusterKey.FromSecret(Convert.ToBase64String(new byte[31])).Length);
        Assert.NotEqual(new byte[31], ClusterKey.FromSecret(Convert.ToBase64String(new byte[31]))[..31]);
        Assert.Equal(32, Convert.FromBase64String(ClusterKey.NewRandomSecret()).Length);
    }

    private static (FrameSealer Send, FrameSealer Receive) Pair(Handshake client, Handshake server)
    {
        (FrameSealer send, FrameSealer receive, _) = Connection(client, server);
        return (send, receive);
    }

    /// <summary>One connection: the client's send sealer, the server's receive sealer and the server's send sealer.</summary>
    private static (FrameSealer ClientSend, FrameSealer ServerReceive, FrameSealer ServerSend) Connection(Handshake client, Handshake server)
    {
        byte[] clientNonce = Handshake.NewNonce();
        byte[] serverNonce = Handshake.NewNonce();
        byte[] hello = Handshake.HelloPayload(new NodeId(1), "127.0.0.1:1", clientNonce);
        byte[] challenge = Handshake.ChallengePayload(new NodeId(2), serverNonce);
        int matched = server.MatchClientProof(hello, challenge, client.ClientProof(hello, challenge));
        Assert.True(matched >= 0);
        (FrameSealer send, _) = client.Sealers(0, clientNonce, serverNonce, hello, challenge);
        (FrameSealer receive, FrameSealer serverSend) = server.Sealers(matched, clientNonce, serverNonce, hello, challenge);
        return (send, receive, serverSend);
    }

    private static byte[] Seal(FrameSealer sealer, byte value)
    {
        var writer = new ArrayBufferWriter<byte>();
        sealer.Write(writer, MessageType.Ping, value, [value]);
        return writer.WrittenSpan.ToArray();
    }

    private static Frame Open(FrameSealer sealer, byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(sealer.TryRead(ref buffer, Max, out Frame frame));
        return frame;
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        byte[] copy = [.. bytes];
        copy[at] ^= 0x80;
        return copy;
    }
}
