using System.Buffers;
using SmdSs.Diagnostics;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Tests.Protocol;
using SmdSs.Tests.Support;
using SmdSs.Transport;
using Xunit.Abstractions;

namespace SmdSs.Tests.Security;

/// <summary>
/// An authenticated peer cannot exhaust a node: its requests in flight are bounded (the node
/// stops reading until answers went out), a reply never grows with a repeated key, its identity
/// is bound to one endpoint, and its connections are counted.
/// </summary>
public sealed class PeerBoundsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_peer_that_pipelines_ten_thousand_large_reads_and_reads_no_answer_is_cut_off_with_memory_bounded()
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        await node.Node.SetAsync("big", new byte[1 << 20]);
        using HandClient client = await HandClient.ConnectAsync(node);
        long before = GC.GetTotalMemory(forceFullCollection: true);

        // 10,000 Gets of a 1 MiB value that this client never reads: 10 GB of answers unbounded.
        byte[] get = Messages.Encode(new ForwardedOperation("big", EntryExpiry.None, []));
        var frames = new ArrayBufferWriter<byte>();
        for (ulong id = 1; id <= 10_000; id++)
        {
            frames.Write(client.Encode(MessageType.Get, id, get));
        }

        Task sending = Wire.SendAsync(client.Client, frames.WrittenSpan.ToArray());
        await node.WaitForRefusalAsync("the peer does not read its answers", TimeSpan.FromSeconds(20));
        long grown = GC.GetTotalMemory(forceFullCollection: true) - before;
        output.WriteLine($"cut off; managed memory grew by {grown / (1 << 20)} MiB (bound: {SmdSsLimits.MaxAnswerBytesPendingPerConnection >> 20} MiB of answers waiting)");
        Assert.True(grown < 512L << 20, $"managed memory grew by {grown / (1 << 20)} MiB");

        client.Dispose();
        await sending;
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }

    [Fact]
    public async Task Requests_past_the_in_flight_bound_are_answered_busy_at_once_and_the_connection_goes_on()
    {
        // On a fake clock a GetOrAdd claim that finds the key claimed waits for ever: each stays in flight.
        await using LoggedNode node = await LoggedNode.StartAsync();
        using HandClient client = await HandClient.ConnectAsync(node);
        const int Claims = 1_500;
        var frames = new ArrayBufferWriter<byte>();
        for (ulong id = 1; id <= Claims; id++)
        {
            var claim = new AtomicRequest(AtomicKind.Claim, "hot", id, EntryExpiry.None, 0, "", []);
            frames.Write(client.Encode(MessageType.Atomic, id, ComputeMessages.Encode(claim)));
        }

        await Wire.SendAsync(client.Client, frames.WrittenSpan.ToArray());
        int expected = 1 + Claims - 1 - SmdSsLimits.MaxRequestsInFlightPerConnection;
        var replies = new List<Frame>();
        while (replies.Count < expected)
        {
            replies.Add(await client.ReadFrameAsync() ?? throw new InvalidOperationException($"closed after {replies.Count} replies"));
        }

        List<Frame> busy = [.. replies.Where(r => r.Type == MessageType.Error)];
        output.WriteLine($"{replies.Count - busy.Count} claim answered, {busy.Count} busy; peak in flight {node.Node.Listener!.PeakRequestsInFlight}");
        Assert.Equal(expected - 1, busy.Count);
        Assert.All(busy, b => Assert.StartsWith("busy:", ErrorReply.Read(b.Payload).Message, StringComparison.Ordinal));
        // The peak counts the first request past the bound, which was answered busy.
        Assert.Equal(SmdSsLimits.MaxRequestsInFlightPerConnection + 1, node.Node.Listener!.PeakRequestsInFlight);

        // The connection stays open and answers at once (busy, while the claims wait), and the node serves everyone else.
        await client.SendAsync(MessageType.Ping, 99_999, Messages.EncodeNode(Wire.RecordOf(client.Id)));
        Frame ping = await client.ReadFrameAsync() ?? throw new InvalidOperationException("closed");
        Assert.Equal((99_999UL, MessageType.Error), (ping.RequestId, ping.Type));
        Assert.StartsWith("busy:", ErrorReply.Read(ping.Payload).Message, StringComparison.Ordinal);
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }

    [Fact]
    public async Task A_FetchRecords_naming_one_large_key_a_million_times_is_answered_with_one_copy()
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        await node.Node.SetAsync("kk", new byte[1 << 20]);
        PieSlice slice = node.Node.SliceMap!.Find(KeyHash.Of("kk"));
        using HandClient client = await HandClient.ConnectAsync(node);

        string[] keys = [.. Enumerable.Repeat("kk", 1_000_000)];
        await client.SendAsync(MessageType.FetchRecords, 7, Messages.Encode(new SliceQueryMessage(slice.Range.Start, slice.Epoch, [], keys)));
        Frame reply = await client.ReadFrameAsync() ?? throw new InvalidOperationException("connection closed");
        output.WriteLine($"reply of {reply.Payload.Length:N0} bytes to a request of {keys.Length:N0} keys");
        Assert.True(reply.Type == MessageType.Ok, reply.Type == MessageType.Error ? ErrorReply.Read(reply.Payload).Message : reply.Type.ToString());
        SliceRecordsMessage records = Messages.DecodeSliceRecords(reply.Payload);
        Assert.Equal("kk", Assert.Single(records.Records).Key);
        Assert.True(reply.Payload.Length < (3 << 20), $"reply of {reply.Payload.Length} bytes");
    }

    [Fact]
    public async Task A_second_connection_claiming_a_connected_node_id_from_another_endpoint_is_refused()
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        NodeId id = NodeId.NewRandom(Random.Shared);
        using HandClient first = await HandClient.ConnectAsync(node, id: id, endpoint: "127.0.0.1:7001");
        using HandClient sameEndpoint = await HandClient.ConnectAsync(node, id: id, endpoint: "127.0.0.1:7001");
        using HandClient impostor = await HandClient.ConnectAsync(node, id: id, endpoint: "127.0.0.1:7002");

        Frame refusal = await impostor.ReadFrameAsync() ?? throw new InvalidOperationException("closed without a reason");
        Assert.Equal(MessageType.Error, refusal.Type);
        Assert.Contains("is already connected from 127.0.0.1:7001", ErrorReply.Read(refusal.Payload).Message, StringComparison.Ordinal);
        await node.WaitForRefusalAsync("this connection claims 127.0.0.1:7002");

        // The genuine connections still work; once they are gone, the id is free again.
        await first.SendAsync(MessageType.Ping, 1, Messages.EncodeNode(Wire.RecordOf(id)));
        Assert.Equal(MessageType.Ok, (await first.ReadFrameAsync())!.Value.Type);
        first.Dispose();
        sameEndpoint.Dispose();
        await Eventually.TrueAsync(
            async () =>
            {
                using HandClient moved = await HandClient.ConnectAsync(node, id: id, endpoint: "127.0.0.1:7002");
                await moved.SendAsync(MessageType.Ping, 1, Messages.EncodeNode(Wire.RecordOf(id)));
                return await moved.ReadFrameAsync() is { Type: MessageType.Ok };
            },
            TimeSpan.FromSeconds(5),
            "the node id, free again, connects from its new endpoint");
    }

    [Fact]
    public async Task Connections_to_an_endpoint_nobody_lists_any_more_are_closed_once_unused()
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        NodeId id = NodeId.NewRandom(Random.Shared);
        await using TcpPeerTransport transport = Wire.Transport(id, LoggedNode.Secret);
        await Wire.PingAsync(transport, id, node);
        Assert.Equal([node.Endpoint], transport.PooledEndpoints);

        transport.ForgetUnlisted(endpoint => endpoint == node.Endpoint, TimeSpan.Zero);
        Assert.Equal([node.Endpoint], transport.PooledEndpoints);
        transport.ForgetUnlisted(_ => false, TimeSpan.FromMinutes(1));
        Assert.Equal([node.Endpoint], transport.PooledEndpoints);
        transport.ForgetUnlisted(_ => false, TimeSpan.Zero);
        Assert.Empty(transport.PooledEndpoints);

        // Listed again later: a new pool, as on first use.
        await Wire.PingAsync(transport, id, node);
        Assert.Equal([node.Endpoint], transport.PooledEndpoints);
    }

    [Fact]
    public void Connections_are_counted_in_all_and_per_node_and_a_node_id_keeps_its_endpoint()
    {
        var connections = new InboundConnections(maxHandshaking: 3, maxHandshakingPerAddress: 2, maxAuthenticated: 4, maxPerNode: 2);
        Assert.Null(connections.TryBeginHandshake("10.0.0.1"));
        Assert.Null(connections.TryBeginHandshake("10.0.0.1"));
        Assert.Contains("from 10.0.0.1 are in their handshake", connections.TryBeginHandshake("10.0.0.1"), StringComparison.Ordinal);
        Assert.Null(connections.TryBeginHandshake("10.0.0.2"));
        Assert.Contains("3 connections are in their handshake", connections.TryBeginHandshake("10.0.0.3"), StringComparison.Ordinal);
        connections.EndHandshake("10.0.0.1");
        Assert.Null(connections.TryBeginHandshake("10.0.0.1"));

        var a = new NodeId(1);
        Assert.Null(connections.TryClaim(a, "10.0.0.1:7400"));
        Assert.Null(connections.TryClaim(a, "10.0.0.1:7400"));
        Assert.Contains("already has 2 connections", connections.TryClaim(a, "10.0.0.1:7400"), StringComparison.Ordinal);
        Assert.Contains("already connected from 10.0.0.1:7400", connections.TryClaim(a, "10.0.0.9:7400"), StringComparison.Ordinal);
        Assert.Null(connections.TryClaim(new NodeId(2), "10.0.0.9:7400"));
        Assert.Null(connections.TryClaim(new NodeId(3), "10.0.0.8:7400"));
        Assert.Contains("4 peer connections are open", connections.TryClaim(new NodeId(4), "10.0.0.7:7400"), StringComparison.Ordinal);
        connections.Release(a);
        connections.Release(a);
        Assert.Null(connections.TryClaim(a, "10.0.0.9:7400"));
    }

    [Fact]
    public void Refusals_are_logged_ten_a_second_and_the_rest_counted_for_the_next_one_logged()
    {
        var limit = new LogRateLimit(10);
        int logged = 0;
        for (int i = 0; i < 25; i++)
        {
            logged += limit.TryTake(1_000 + i, out long none) ? 1 : 0;
            Assert.Equal(0, none);
        }

        Assert.Equal(10, logged);
        Assert.True(limit.TryTake(2_000, out long suppressed));
        Assert.Equal(15, suppressed);
        Assert.True(limit.TryTake(2_001, out suppressed));
        Assert.Equal(0, suppressed);
    }
}
