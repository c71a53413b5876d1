using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs.Tests.Cluster;

public sealed class NodeMapMergeTests
{
    private static readonly NodeRecord Me = new(new NodeId(1), "me", NodeState.Up, 5, 3, 0);
    private static readonly NodeRecord Peer = new(new NodeId(2), "peer", NodeState.Up, 7, 1, 0);

    [Fact]
    public void A_record_saying_this_node_is_suspect_is_refuted_with_a_higher_incarnation()
    {
        NodeRecord rumour = Me with { State = NodeState.Suspect };
        NodeMap map = NodeMapMerge.Merge(NodeMap.Of([Me]), Me, [Peer], [Peer, rumour], mayRefute: true, out NodeRecord self, out List<NodeRecord> changed);

        Assert.Equal((6L, NodeState.Up), (self.Incarnation, self.State));
        Assert.Equal(self, map.Find(Me.Id));
        Assert.Equal(Peer, map.Find(Peer.Id));
        Assert.Equal([Peer], changed);
    }

    [Fact]
    public void A_node_going_down_lets_the_record_stand_and_an_old_record_of_it_changes_nothing()
    {
        NodeRecord rumour = Me with { State = NodeState.Down, GoneSinceMs = 1 };
        NodeMapMerge.Merge(NodeMap.Of([Me]), Me, [], [rumour], mayRefute: false, out NodeRecord self, out _);
        Assert.Equal(Me, self);

        NodeRecord old = Me with { Incarnation = 4, State = NodeState.Down, GoneSinceMs = 1 };
        NodeMap map = NodeMapMerge.Merge(NodeMap.Of([Me]), Me, [old], [old], mayRefute: true, out self, out List<NodeRecord> changed);
        Assert.Equal(Me, self);
        Assert.Equal(Me, map.Find(Me.Id));
        Assert.Empty(changed);
    }

    [Fact]
    public void A_leaving_node_refutes_and_stays_leaving()
    {
        NodeRecord leaving = Me with { State = NodeState.Leaving };
        NodeMapMerge.Merge(NodeMap.Of([leaving]), leaving, [], [leaving with { State = NodeState.Down, GoneSinceMs = 1 }], mayRefute: true, out NodeRecord self, out _);
        Assert.Equal((6L, NodeState.Leaving), (self.Incarnation, self.State));
    }
}
