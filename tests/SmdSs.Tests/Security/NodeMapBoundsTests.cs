using Microsoft.Extensions.Time.Testing;
using SmdSs.Cluster;
using SmdSs.Membership;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Tests.Protocol;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Security;

/// <summary>
/// The node map is bounded: nodes gone (Down or Left) longer than NodeRetention are forgotten and
/// not taken back from a peer's stale copy, and no message takes the map past MaxNodes.
/// </summary>
public sealed class NodeMapBoundsTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly long StartMs = Start.ToUnixTimeMilliseconds();

    private static bool Tick(FakeTimeProvider time)
    {
        time.Advance(TimeSpan.FromMilliseconds(500));
        return true;
    }

    private static NodeRecord Left(ulong id, long goneSinceMs) => new(new NodeId(id), $"10.9.0.{id}:7400", NodeState.Left, 1L << 20, 3, 0, goneSinceMs);

    [Fact]
    public async Task A_node_gone_past_the_retention_is_not_taken_and_one_gone_recently_is_forgotten_when_its_time_comes()
    {
        var time = new FakeTimeProvider(Start);
        await using LoggedNode node = await LoggedNode.StartAsync(o => o.NodeRetention = TimeSpan.FromMinutes(1), time);
        using HandClient client = await HandClient.ConnectAsync(node);

        NodeRecord stale = Left(101, StartMs - 120_000);
        NodeRecord recent = Left(102, StartMs - 10_000);
        await client.SendAsync(MessageType.SyncDelta, 1, Messages.Encode(new SyncDeltaMessage([Wire.RecordOf(client.Id), stale, recent], [], [], [])));
        Assert.Equal(MessageType.SyncDelta, (await client.ReadFrameAsync())!.Value.Type);

        Assert.Null(node.Node.Nodes.Find(stale.Id));
        Assert.Equal(recent, node.Node.Nodes.Find(recent.Id));

        // A minute on (the failure-detection round forgets): gone, and said in the log. The clock
        // moves by ticks, so that the round's timer, however late it started, sees them.
        time.Advance(TimeSpan.FromSeconds(49));
        Assert.NotNull(node.Node.Nodes.Find(recent.Id));
        await Eventually.TrueAsync(() => Tick(time) && node.Node.Nodes.Find(recent.Id) is null, TimeSpan.FromSeconds(10), "the node that left is forgotten");
        Assert.Contains(node.Logs.GetSnapshot(), r => r.Id.Id == 410 && r.Message.Contains(recent.Id.ToString(), StringComparison.Ordinal));
        Assert.NotNull(node.Node.Nodes.Find(node.Node.Self));
    }

    [Fact]
    public async Task A_flood_of_new_nodes_fills_the_map_to_MaxNodes_and_no_further_and_the_node_goes_on()
    {
        await using LoggedNode node = await LoggedNode.StartAsync();
        using HandClient client = await HandClient.ConnectAsync(node);

        List<NodeRecord> flood = [Wire.RecordOf(client.Id), .. Enumerable.Range(1, SmdSsLimits.MaxNodes).Select(i =>
            new NodeRecord(new NodeId((ulong)i + 1000), $"10.{i >> 8}.{i & 255}.1:7400", NodeState.Up, 1L << 20, 0, 0))];
        await client.SendAsync(MessageType.SyncDelta, 1, Messages.Encode(new SyncDeltaMessage(flood, [], [], [])));

        Assert.Equal(MessageType.SyncDelta, (await client.ReadFrameAsync())!.Value.Type);
        Assert.Equal(SmdSsLimits.MaxNodes, node.Node.Nodes.Count);
        Assert.NotNull(node.Node.Nodes.Find(node.Node.Self));
        Assert.Contains(node.Logs.GetSnapshot(), r => r.Id.Id == 411);
        await Wire.AssertStillServesAsync(node, LoggedNode.Secret);
    }

    [Fact]
    public async Task The_saved_state_says_when_the_node_was_last_up_even_when_nothing_changes()
    {
        using var directory = new TempDirectory();
        var time = new FakeTimeProvider(Start);
        SmdSsNode node = await TestNodes.StartAsync(directory.Path, time, o => o.NodeRetention = TimeSpan.FromMinutes(1));
        try
        {
            // A quarter of the retention on, with nothing changed, the file is saved again.
            time.Advance(TimeSpan.FromSeconds(15));
            await Eventually.TrueAsync(
                () => Tick(time) && ClusterStateFile.TryRead(directory.Path, 0)?.SavedAtMs >= StartMs + 15_000, TimeSpan.FromSeconds(10), "the state re-saved with the time");
            long first = ClusterStateFile.TryRead(directory.Path, 0)!.Value.SavedAtMs;
            time.Advance(TimeSpan.FromSeconds(10));
            Assert.Equal(first, ClusterStateFile.TryRead(directory.Path, 0)!.Value.SavedAtMs);
            await Eventually.TrueAsync(
                () => Tick(time) && ClusterStateFile.TryRead(directory.Path, 0)?.SavedAtMs >= first + 15_000, TimeSpan.FromSeconds(10), "and again a quarter retention later");
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_node_back_after_the_retention_keeps_the_endpoints_it_remembered_until_it_reaches_them_across_restarts()
    {
        using var directory = new TempDirectory();
        var time = new FakeTimeProvider(Start);
        Action<SmdSsOptions> retention = o => o.NodeRetention = TimeSpan.FromMinutes(1);
        SmdSsNode node = await TestNodes.StartAsync(directory.Path, time, retention);
        NodeRecord self = node.Nodes.Find(node.Self)!;
        await node.DisposeAsync();

        // Its map, saved two minutes ago, names a peer that cannot be reached now.
        var peer = new NodeRecord(new NodeId(0xBEEF), "127.0.0.1:1", NodeState.Up, 1L << 20, 4, 0);
        (_, var slices, _, _, _) = ClusterStateFile.TryRead(directory.Path, 0)!.Value;
        ClusterStateFile.Write(directory.Path, NodeMap.Of([self, peer]), slices, StartMs - 120_000, [], 0);

        node = await TestNodes.StartAsync(directory.Path, time, retention);
        Assert.Equal([node.Self], node.Nodes.Nodes.Select(n => n.Id));
        await node.DisposeAsync();
        Assert.Equal(["127.0.0.1:1"], ClusterStateFile.TryRead(directory.Path, 0)!.Value.Contacts);

        // Stopped before it reached anyone, it still has them at the next start.
        node = await TestNodes.StartAsync(directory.Path, time, retention);
        await node.DisposeAsync();
        Assert.Equal(["127.0.0.1:1"], ClusterStateFile.TryRead(directory.Path, 0)!.Value.Contacts);
    }
}
