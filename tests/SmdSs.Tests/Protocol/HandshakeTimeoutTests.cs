using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Tests.Support;
using SmdSs.Transport;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// Clients that never finish the handshake (silent, stalled inside a frame, or gone quiet after
/// Hello) are closed by the handshake timeout, and while they hang on the node serves everyone else.
/// </summary>
public sealed class HandshakeTimeoutTests
{
    private static readonly TimeSpan CloseDeadline = Handshake.Timeout + TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Clients_that_never_finish_the_handshake_are_closed_by_the_timeout_and_block_nobody()
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        var started = Stopwatch.StartNew();

        using TcpClient silent = await Wire.ConnectAsync(node);

        using TcpClient stalled = await Wire.ConnectAsync(node);
        await Wire.SendAsync(stalled, [14, 0]);

        using TcpClient quietAfterHello = await Wire.ConnectAsync(node);
        NodeId clientId = NodeId.NewRandom(Random.Shared);
        byte[] nonce = Handshake.NewNonce();
        await Wire.SendAsync(quietAfterHello, FrameCodec.Encode(MessageType.Hello, 1, Wire.HelloPayload(clientId, "127.0.0.1:1", nonce)));
        var pending = new ArrayBufferWriter<byte>();
        Frame challenge = await Wire.ReadFrameAsync(quietAfterHello, pending) ?? throw new InvalidOperationException("no HelloChallenge");
        Assert.Equal(MessageType.HelloChallenge, challenge.Type);

        // While all three hang on, the node answers a well-behaved peer and its own API.
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
        Assert.True(started.Elapsed < Handshake.Timeout, $"serving the good peer took {started.Elapsed}, as long as the handshake timeout");

        byte[][] lastWords = await Task.WhenAll(
            Wire.ReadUntilClosedAsync(silent, CloseDeadline),
            Wire.ReadUntilClosedAsync(stalled, CloseDeadline),
            Wire.ReadUntilClosedAsync(quietAfterHello, CloseDeadline));
        TimeSpan closedAfter = started.Elapsed;

        Assert.True(closedAfter >= Handshake.Timeout - TimeSpan.FromMilliseconds(500), $"closed after {closedAfter}, before the handshake timeout");
        await Eventually.TrueAsync(
            () => node.RefusalReasons.Count(r => r.Contains("no handshake within 5 s", StringComparison.Ordinal)) == 3,
            TimeSpan.FromSeconds(5),
            "three 'no handshake' reasons logged: " + string.Join(" | ", node.RefusalReasons));
        Assert.Contains("no handshake within 5 s", Wire.SingleRefusal(lastWords[0]).Message, StringComparison.Ordinal);
        Assert.Contains("no handshake within 5 s", Wire.SingleRefusal(lastWords[1]).Message, StringComparison.Ordinal);
        Assert.Contains("no handshake within 5 s", Wire.SingleRefusal([.. pending.WrittenSpan, .. lastWords[2]]).Message, StringComparison.Ordinal);

        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }
}
