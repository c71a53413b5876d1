using System.Buffers;
using System.Net.Sockets;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// A client made by hand over a raw socket, authenticated with a secret and sealing its frames
/// as a node does, so that a test can send exactly the bytes it wants after the handshake.
/// </summary>
internal sealed class HandClient(TcpClient client, NodeId id, ArrayBufferWriter<byte> pending, FrameSealer? send, FrameSealer? receive) : IDisposable
{
    public TcpClient Client { get; } = client;

    public NodeId Id { get; } = id;

    /// <summary>Bytes received and not yet read as a frame.</summary>
    public ArrayBufferWriter<byte> Pending { get; } = pending;

    /// <summary>Handshakes with <paramref name="node"/> as a peer with <paramref name="secret"/>.</summary>
    public static async Task<HandClient> ConnectAsync(LoggedNode node, string? secret = LoggedNode.Secret, NodeId? id = null, string endpoint = "127.0.0.1:1")
    {
        TcpClient client = await Wire.ConnectAsync(node);
        return await HandshakeAsync(client, node, secret, id, endpoint);
    }

    public static async Task<HandClient> HandshakeAsync(TcpClient client, LoggedNode node, string? secret = LoggedNode.Secret, NodeId? claimedId = null, string endpoint = "127.0.0.1:1")
    {
        NodeId id = claimedId ?? NodeId.NewRandom(Random.Shared);
        byte[] nonce = Handshake.NewNonce();
        var pending = new ArrayBufferWriter<byte>();
        var handshake = new Handshake(secret);
        byte[] hello = Handshake.HelloPayload(id, endpoint, nonce);
        await Wire.SendAsync(client, FrameCodec.Encode(MessageType.Hello, 1, hello));
        Frame challenge = await Wire.ReadFrameAsync(client, pending) ?? throw new InvalidOperationException("no HelloChallenge");
        Assert.Equal(MessageType.HelloChallenge, challenge.Type);
        byte[] serverNonce = Wire.ReadChallenge(challenge, node);
        byte[] proof = handshake.ClientProof(hello, challenge.Payload);
        await Wire.SendAsync(client, FrameCodec.Encode(MessageType.HelloProof, 2, proof));
        Frame ok = await Wire.ReadFrameAsync(client, pending) ?? throw new InvalidOperationException("no HelloOk");
        Assert.Equal(MessageType.HelloOk, ok.Type);
        Assert.True(handshake.ServerProofMatches(hello, challenge.Payload, proof, ok.Payload), "the node's proof matches the secret");
        if (!handshake.Seals)
        {
            return new HandClient(client, id, pending, null, null);
        }

        (FrameSealer send, FrameSealer receive) = handshake.Sealers(0, nonce, serverNonce, hello, challenge.Payload);
        return new HandClient(client, id, pending, send, receive);
    }

    /// <summary>One frame as this client puts it on the wire (sealed, with the next sequence number).</summary>
    public byte[] Encode(MessageType type, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (send is null)
        {
            return FrameCodec.Encode(type, requestId, payload);
        }

        var writer = new ArrayBufferWriter<byte>();
        send.Write(writer, type, requestId, payload);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>A frame body (after the length field) sealed as given, well-formed or not.</summary>
    public byte[] EncodeBody(ReadOnlySpan<byte> body)
    {
        var writer = new ArrayBufferWriter<byte>();
        if (send is null)
        {
            writer.Write(BitConverter.GetBytes((uint)body.Length));
            writer.Write(body);
        }
        else
        {
            send.WriteBody(writer, body);
        }

        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Every whole frame in <paramref name="bytes"/>, opened in order with this connection's receive keys.</summary>
    public List<Frame> Frames(byte[] bytes)
    {
        if (receive is null)
        {
            return Wire.Frames(bytes);
        }

        var frames = new List<Frame>();
        var buffer = new ReadOnlySequence<byte>(bytes);
        while (receive.TryRead(ref buffer, 1 << 20, out Frame frame))
        {
            frames.Add(frame);
        }

        return frames;
    }

    public Task SendAsync(MessageType type, ulong requestId, ReadOnlySpan<byte> payload) => Wire.SendAsync(Client, Encode(type, requestId, payload));

    public Task<Frame?> ReadFrameAsync() => Wire.ReadFrameAsync(Client, Pending, receive);

    public void Dispose()
    {
        Client.Dispose();
        send?.Dispose();
        receive?.Dispose();
    }
}
