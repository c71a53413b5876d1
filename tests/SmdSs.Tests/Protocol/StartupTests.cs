using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Protocol;

/// <summary>Start-up: a taken Listen endpoint fails clearly; a friend that is down delays nothing.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task A_second_node_on_the_same_Listen_endpoint_fails_to_start_naming_SmdSs_Listen()
    {
        string listen = $"127.0.0.1:{FreePorts.Next()}";
        await using LoggedNode first = await LoggedNode.StartAsync(o => o.Listen = listen);
        Assert.Equal(listen, first.Endpoint);

        using var secondDirectory = new TempDirectory();
        InvalidOperationException ex = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            LoggedNode.StartAsync(o => o.Listen = listen, directory: secondDirectory));
        Assert.Contains("SmdSs:Listen", ex.Message, StringComparison.Ordinal);
        Assert.Contains(listen, ex.Message, StringComparison.Ordinal);

        // The failed start released its data directory: the same directory starts on a free endpoint.
        await using (LoggedNode retry = await LoggedNode.StartAsync(o => o.Listen = "127.0.0.1:0", directory: secondDirectory))
        {
            Assert.True(retry.Node.IsRunning);
        }

        // And the first node never noticed.
        Assert.True(first.Node.IsRunning);
        await Wire.AssertStillServesAsync(first, LoggedNode.Secret);
    }

    [Theory]
    [InlineData("closed-port")]
    [InlineData("silent-listener")]
    [InlineData("garbage-server")]
    public async Task A_friend_that_is_down_delays_nothing(string friendKind)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        using var stopFriend = new CancellationTokenSource();
        Task friendLoop = Task.CompletedTask;
        string friend;
        switch (friendKind)
        {
            case "silent-listener":
                // Accepts connections (the kernel does) but never says a word.
                listener.Start();
                friend = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
                break;
            case "garbage-server":
                // Answers every connection with garbage, then hangs up.
                listener.Start();
                friend = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
                friendLoop = ServeGarbageAsync(listener, stopFriend.Token);
                break;
            default:
                friend = $"127.0.0.1:{FreePorts.Next()}";
                break;
        }

        try
        {
            var clock = Stopwatch.StartNew();
            await using LoggedNode node = await LoggedNode.StartAsync(o => o.Friends.Add(friend), TimeProvider.System);
            TimeSpan startedIn = clock.Elapsed;
            Assert.True(startedIn < TimeSpan.FromSeconds(2), $"start took {startedIn}");

            // The node waits up to 3 s for a first map sync before it acts as primary; then it serves alone.
            await node.Node.SetAsync("alone", new byte[] { 7, 7, 7 });
            Assert.Equal([7, 7, 7], await node.Node.GetAsync("alone"));
            TimeSpan servedIn = clock.Elapsed;
            Assert.True(servedIn < TimeSpan.FromSeconds(5), $"Set and Get took until {servedIn} after the start began");
            Assert.Equal(1, node.Node.Nodes.Count);

            // Nothing unexpected escaped into a background loop (event 405: cluster task failed).
            Assert.DoesNotContain(node.Logs.GetSnapshot(), r => r.Id.Id == 405);
        }
        finally
        {
            await stopFriend.CancelAsync();
            listener.Stop();
            await friendLoop;
        }
    }

    private static async Task ServeGarbageAsync(TcpListener listener, CancellationToken stopping)
    {
        var random = new Random(99);
        while (!stopping.IsCancellationRequested)
        {
            TcpClient peer;
            try
            {
                peer = await listener.AcceptTcpClientAsync(stopping);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            using (peer)
            {
                byte[] garbage = new byte[random.Next(1, 512)];
                random.NextBytes(garbage);
                try
                {
                    await peer.GetStream().WriteAsync(garbage, stopping);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException)
                {
                    // The node hung up first.
                }
            }
        }
    }
}
