using Microsoft.Extensions.Time.Testing;
using SmdSs.Membership;
using SmdSs.Protocol;
using SmdSs.Tests.Protocol;

namespace SmdSs.Tests.Security;

/// <summary>
/// The node map does not grow for ever with nodes that left: a Left node is forgotten after
/// <see cref="SmdSsLimits.LeftNodeRetention"/>, and gossip does not bring it back at that incarnation.
/// </summary>
public sealed class NodeMapRetentionTests
{
    [Fact]
    public async Task A_node_that_left_for_good_is_forgotten_after_the_retention_and_not_taken_back()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using LoggedNode node = await LoggedNode.StartAsync(time: time);
        using HandClient peer = await HandClient.ConnectAsync(node);
        var gone = new NodeRecord(NodeId.NewRandom(), "127.0.0.1:9", NodeState.Left, 5L << 20, 3, 0);

        await GossipAsync(peer, gone);
        Assert.Equal(NodeState.Left, node.Node.Nodes.Find(gone.Id)?.State);
        time.Advance(SmdSsLimits.LeftNodeRetention - TimeSpan.FromMinutes(1));
        node.Node.RunMaintenance();
        Assert.NotNull(node.Node.Nodes.Find(gone.Id));

        time.Advance(TimeSpan.FromMinutes(2));
        node.Node.RunMaintenance();
        Assert.Null(node.Node.Nodes.Find(gone.Id));

        // A peer that has not forgotten it yet gossips it again: not taken back.
        await GossipAsync(peer, gone with { Heartbeat = 4 });
        Assert.Null(node.Node.Nodes.Find(gone.Id));

        // The same node id starting again (a higher incarnation) is a node like any other.
        await GossipAsync(peer, gone with { State = NodeState.Up, Incarnation = 6L << 20 });
        Assert.Equal(NodeState.Up, node.Node.Nodes.Find(gone.Id)?.State);
    }

    private static async Task GossipAsync(HandClient peer, NodeRecord record)
    {
        await peer.SendAsync(MessageType.SyncDelta, 1, Messages.Encode(new SyncDeltaMessage([Wire.RecordOf(peer.Id), record], [], [], [])));
        Frame reply = await peer.ReadFrameAsync() ?? throw new InvalidOperationException("closed");
        Assert.Equal(MessageType.SyncDelta, reply.Type);
    }
}
