using System.Buffers;
using System.Net.Sockets;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// A peer that stops reading its answers (its receive window fills up) and then sends a bad
/// frame: that connection must still be closed, and the node must still be able to stop.
/// </summary>
public sealed class SlowReaderTests
{
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_peer_that_stops_reading_and_then_sends_garbage_cannot_hold_its_connection_or_the_node_open()
    {
        LoggedNode node = await LoggedNode.StartAsync();
        var client = new TcpClient { NoDelay = true, ReceiveBufferSize = 4096 };
        Task? stop = null;
        try
        {
            await client.ConnectAsync(node.IpEndpoint);
            using HandClient hand = await HandClient.HandshakeAsync(client, node);
            await node.Node.SetAsync("big", new byte[1 << 20]);

            // 32 MiB of answers that this client never reads: far more than the socket buffers hold.
            byte[] get = Messages.Encode(new ForwardedOperation("big", EntryExpiry.None, []));
            var requests = new ArrayBufferWriter<byte>();
            for (ulong id = 10; id < 42; id++)
            {
                requests.Write(hand.Encode(MessageType.Get, id, get));
            }

            await Wire.SendAsync(client, requests.WrittenSpan.ToArray());
            await Wire.SendAsync(client, [0xF0, 0xFF, 0xFF, 0xFF]);
            await node.WaitForRefusalAsync("frame length 4294967280");

            // The refused connection is closed by now, so the node stops promptly.
            stop = node.Node.StopAsync();
            bool stopped = await Task.WhenAny(stop, Task.Delay(StopDeadline)) == stop;
            Assert.True(stopped, $"the node did not stop within {StopDeadline}: the refused connection is still open, blocked writing answers to a peer that does not read them");
        }
        finally
        {
            // Unblock the node (its writes fail once the peer is gone), whatever the outcome above.
            client.Dispose();
            if (stop is not null)
            {
                await stop.WaitAsync(TimeSpan.FromSeconds(10));
            }

            await node.DisposeAsync();
        }
    }
}
