using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// The client side of the handshake against a server made by hand: a server that cannot prove
/// the secret, or sends a large frame before it did, is refused before anything else is sent.
/// </summary>
public sealed class HandshakeClientTests
{
    [Theory]
    [InlineData("wrong-server-proof", "the server's cluster-secret proof is wrong")]
    [InlineData("empty-server-proof", "the server's cluster-secret proof is wrong")]
    [InlineData("large-frame-before-proof", "frame length 1048586 outside 10..4096")]
    [InlineData("challenge-with-trailing-bytes", "unexpected bytes after the message")]
    public async Task A_client_refuses_a_server_that_does_not_prove_the_secret(string scenario, string reason)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endpoint = (IPEndPoint)listener.LocalEndpoint;
        Task<byte[]> server = PlayServerAsync(listener, scenario);

        var handshake = new Handshake(LoggedNode.Secret);
        var error = await Assert.ThrowsAsync<PeerUnavailableException>(() =>
            PeerConnection.ConnectAsync(endpoint.ToString(), NodeId.NewRandom(Random.Shared), "127.0.0.1:1", handshake, 1 << 20, CancellationToken.None));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);

        // After the proof it refused, the client sent nothing more: no request reached the fake server.
        byte[] afterProof = await server;
        Assert.Empty(afterProof);
    }

    private static async Task<byte[]> PlayServerAsync(TcpListener listener, string scenario)
    {
        using TcpClient client = await listener.AcceptTcpClientAsync();
        var pending = new ArrayBufferWriter<byte>();
        Frame hello = await Wire.ReadFrameAsync(client, pending) ?? throw new InvalidOperationException("no Hello");
        Assert.Equal(MessageType.Hello, hello.Type);
        byte[] challenge = Handshake.ChallengePayload(NodeId.NewRandom(Random.Shared), Handshake.NewNonce());
        switch (scenario)
        {
            case "large-frame-before-proof":
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.HelloChallenge, 0, new byte[1 << 20]));
                return await Wire.ReadUntilClosedAsync(client);
            case "challenge-with-trailing-bytes":
                await Wire.SendAsync(client, FrameCodec.Encode(MessageType.HelloChallenge, 0, [.. challenge, 1]));
                return await Wire.ReadUntilClosedAsync(client);
        }

        await Wire.SendAsync(client, FrameCodec.Encode(MessageType.HelloChallenge, 0, challenge));
        Frame proof = await Wire.ReadFrameAsync(client, pending) ?? throw new InvalidOperationException("no HelloProof");
        Assert.Equal(MessageType.HelloProof, proof.Type);
        byte[] serverProof = scenario == "empty-server-proof" ? [] : new byte[32];
        if (serverProof.Length > 0)
        {
            BinaryPrimitives.WriteInt64LittleEndian(serverProof, 42);
        }

        await Wire.SendAsync(client, FrameCodec.Encode(MessageType.HelloOk, 0, serverProof));
        byte[] unread = pending.WrittenSpan.ToArray();
        return [.. unread, .. await Wire.ReadUntilClosedAsync(client)];
    }
}
