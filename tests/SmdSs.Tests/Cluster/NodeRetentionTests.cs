using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs.Tests.Cluster;

/// <summary>When the node map forgets a node, and why every map forgets it the same way.</summary>
public sealed class NodeRetentionTests
{
    private static readonly TimeSpan Retention = TimeSpan.FromHours(24);
    private static readonly long Day = (long)Retention.TotalMilliseconds;
    private const long Now = 1_800_000_000_000;
    private static readonly NodeId Self = new(1);
    private static readonly NodeId Gone = new(2);
    private static readonly NodeId Other = new(3);

    private static NodeRecord Record(NodeId id, NodeState state, long goneSinceMs = 0, long heartbeat = 5) =>
        new(id, $"10.0.0.{id.Value}:7400", state, 1L << 20, heartbeat, 0, goneSinceMs);

    [Theory]
    [InlineData("Left", 1, true)]
    [InlineData("Down", 1, true)]
    [InlineData("Left", 0, false)]
    [InlineData("Up", 1, false)]
    [InlineData("Suspect", 1, false)]
    [InlineData("Leaving", 1, false)]
    public void Only_a_node_gone_for_the_whole_retention_has_expired(string stateName, long daysGone, bool expired)
    {
        NodeState state = Enum.Parse<NodeState>(stateName);
        Assert.Equal(expired, NodeRetention.IsExpired(Record(Gone, state, Now - (daysGone * Day)), Now, Retention));
        Assert.False(NodeRetention.IsExpired(Record(Gone, state, Now - Day + 1), Now, Retention));
    }

    [Fact]
    public void A_node_a_slice_record_still_names_is_kept_and_the_node_itself_always()
    {
        NodeMap map = NodeMap.Of([Record(Self, NodeState.Left, 1), Record(Gone, NodeState.Down, 1), Record(Other, NodeState.Left, 1)]);

        Assert.Equal([Other], NodeRetention.Expired(map, Self, new HashSet<NodeId> { Gone }, Now, Retention));
        Assert.Equal([Gone, Other], NodeRetention.Expired(map, Self, new HashSet<NodeId>(), Now, Retention));
    }

    [Fact]
    public void A_slice_map_names_its_replicas_in_sync_replicas_and_hinted_ones()
    {
        var slice = new PieSlice(new SliceRange(0, uint.MaxValue), 3, [Self, Gone], [Self], [new ReplicaHint(Other, 9)]);

        Assert.Equal(new HashSet<NodeId> { Self, Gone, Other }, SliceMap.FromSlices([slice]).NamedNodes());
    }

    [Fact]
    public void Two_records_that_differ_only_in_the_time_gone_converge_on_the_earlier_in_either_order()
    {
        NodeRecord early = Record(Gone, NodeState.Down, Now - 1_000);
        NodeRecord late = Record(Gone, NodeState.Down, Now);
        NodeMap a = NodeMap.Of([early]).Merge([late], out _);
        NodeMap b = NodeMap.Of([late]).Merge([early], out _);

        Assert.Equal(early, a.Find(Gone));
        Assert.Equal(early, b.Find(Gone));
        Assert.Equal(a.Digest, b.Digest);
        // A summary carries the time too, so a digest exchange asks for the record that differs.
        Assert.True(NodeMap.Of([late]).Summaries.Single().IsOlderThan(early));
        Assert.False(a.Summaries.Single().IsOlderThan(early));
    }

    [Fact]
    public void A_new_state_is_stamped_once_and_a_serving_state_clears_the_stamp()
    {
        NodeRecord down = Record(Gone, NodeState.Up).InState(NodeState.Down, Now);
        Assert.Equal(Now, down.GoneSinceMs);
        Assert.Equal(Now, down.InState(NodeState.Down, Now + 5).GoneSinceMs);
        Assert.Equal(Now + 5, down.InState(NodeState.Left, Now + 5).GoneSinceMs);
        Assert.Equal(0, down.InState(NodeState.Up, Now + 5).GoneSinceMs);
        Assert.Equal(0, Record(Gone, NodeState.Up).InState(NodeState.Suspect, Now).GoneSinceMs);
    }

    [Fact]
    public void A_node_back_within_the_retention_keeps_its_map_but_what_expired()
    {
        NodeMap saved = NodeMap.Of([Record(Self, NodeState.Down, Now - 60_000), Record(Gone, NodeState.Left, Now - Day - 1), Record(Other, NodeState.Up)]);

        NodeMap restored = NodeRetention.Restored(saved, Self, Now - 60_000, ["10.0.0.9:7400"], Now + 5, new HashSet<NodeId>(), Now, Retention, out List<string> contacts, out long until);

        Assert.Equal([Self, Other], restored.Nodes.Select(n => n.Id));
        Assert.Equal(["10.0.0.9:7400"], contacts);
        Assert.Equal(Now + 5, until);

        // Contacts whose time is up are given up, however often the node restarts.
        NodeRetention.Restored(saved, Self, Now - 60_000, ["10.0.0.9:7400"], Now, new HashSet<NodeId>(), Now, Retention, out List<string> expired, out _);
        Assert.Empty(expired);
    }

    [Fact]
    public void A_node_back_after_the_retention_passes_on_nothing_it_remembers_and_only_asks_the_endpoints()
    {
        NodeMap saved = NodeMap.Of([
            Record(Self, NodeState.Down, Now - Day - 1), Record(Gone, NodeState.Left, Now - (2 * Day)), Record(Other, NodeState.Up), Record(new NodeId(4), NodeState.Down, Now - (2 * Day))]);

        NodeMap restored = NodeRetention.Restored(
            saved, Self, Now - Day - 1, ["10.0.0.4:7400", "10.0.0.9:7400"], Now - 1, new HashSet<NodeId> { Other }, Now, Retention, out List<string> contacts, out long until);

        Assert.Equal(0, restored.Count);
        Assert.Equal(["10.0.0.4:7400", "10.0.0.9:7400", "10.0.0.3:7400"], contacts);
        Assert.Equal(Now + Day, until);
    }

    [Fact]
    public void A_full_map_gives_up_the_earliest_gone_nodes_no_slice_names_and_admits_only_what_fits()
    {
        NodeMap map = NodeMap.Of([
            Record(Self, NodeState.Up), Record(Gone, NodeState.Left, Now - 10), Record(Other, NodeState.Down, Now - 20),
            Record(new NodeId(4), NodeState.Down, Now - 30), Record(new NodeId(5), NodeState.Up)]);

        Assert.Equal(2, NodeRetention.MakeRoom(map, Self, new HashSet<NodeId>(), 2, 7, out List<NodeId> none));
        Assert.Empty(none);
        Assert.Equal(2, NodeRetention.MakeRoom(map, Self, new HashSet<NodeId> { new(4) }, 2, 5, out List<NodeId> evict));
        Assert.Equal([Other, Gone], evict);
        Assert.Equal(2, NodeRetention.MakeRoom(map, Self, new HashSet<NodeId> { Gone, Other, new(4) }, 3, 7, out List<NodeId> noneGone));
        Assert.Empty(noneGone);
    }

    [Fact]
    public void Without_removes_the_nodes_and_changes_the_digest()
    {
        NodeMap map = NodeMap.Of([Record(Self, NodeState.Up), Record(Gone, NodeState.Left, 1)]);

        Assert.Same(map, map.Without([]));
        NodeMap without = map.Without([Gone]);
        Assert.Null(without.Find(Gone));
        Assert.Equal(NodeMap.Of([Record(Self, NodeState.Up)]).Digest, without.Digest);
        Assert.Equal([Self], without.Nodes.Select(n => n.Id));
    }
}
