using SmdSs.Core;
using SmdSs.Model;

namespace SmdSs.Tests.Core;

public sealed class WriteReplicationTests
{
    private static readonly NodeId A = new(1);
    private static readonly NodeId B = new(2);
    private static readonly NodeId C = new(3);
    private static readonly NodeId D = new(4);

    // Led by A, replicated on B and C (in sync) and D (catching up).
    private static readonly PieSlice Slice = SliceMap.CreateInitial(1, [A, B, C]).Find(0) is var s ? s.Next([A, B, C, D], s.InSync) : null!;

    private static bool Everyone(NodeId _) => true;

    [Fact]
    public void A_write_goes_to_every_reachable_replica_of_the_current_record_and_of_the_one_it_began_on()
    {
        Assert.Equal([B, C, D], WriteReplication.Targets(Slice, [A, B, C], A, Everyone));
        Assert.Equal([B, D, new NodeId(9)], WriteReplication.Targets(Slice, [new NodeId(9)], A, n => n != C));
    }

    [Fact]
    public void Replies_tell_holders_failed_in_sync_replicas_broken_catch_ups_and_hints_apart()
    {
        List<NodeId> targets = [B, C, D];
        ReplicationTally tally = WriteReplication.Tally(Slice, [], A, targets, [ReplicaReply.Holds, ReplicaReply.Failed, ReplicaReply.Failed], Everyone);
        Assert.Equal([A, B], tally.Holders.Order());
        Assert.Equal([C], tally.FailedInSync);
        Assert.Equal([D], tally.BrokenCatchUps);
        Assert.Equal([C, D], tally.Missed);
    }

    [Fact]
    public void A_deposed_answer_is_no_failure_of_the_replica_but_still_breaks_a_catch_up()
    {
        ReplicationTally tally = WriteReplication.Tally(Slice, [], A, [B, C, D], [ReplicaReply.Deposed, ReplicaReply.Holds, ReplicaReply.Deposed], Everyone);
        Assert.Empty(tally.FailedInSync);
        Assert.Equal([D], tally.BrokenCatchUps);
        Assert.Equal([B, D], tally.Missed);
    }

    [Fact]
    public void An_in_sync_replica_out_of_reach_fails_and_a_catching_up_one_out_of_reach_is_broken()
    {
        Func<NodeId, bool> reachable = n => n != C && n != D;
        List<NodeId> targets = WriteReplication.Targets(Slice, [], A, reachable);
        ReplicationTally tally = WriteReplication.Tally(Slice, [], A, targets, [ReplicaReply.Holds], reachable);
        Assert.Equal([C], tally.FailedInSync);
        Assert.Equal([D], tally.BrokenCatchUps);
    }

    [Fact]
    public void Replies_must_match_the_targets()
    {
        Assert.Throws<ArgumentException>(() => WriteReplication.Tally(Slice, [], A, [B, C], [ReplicaReply.Holds], Everyone));
    }

    [Fact]
    public void Dropping_takes_failed_replicas_out_of_the_in_sync_set_only_where_this_node_leads_and_they_are_in_it()
    {
        PieSlice? next = WriteReplication.Dropping(Slice, [C, D], A);
        Assert.NotNull(next);
        Assert.Equal([A, B], next.InSync.AsEnumerable());
        Assert.Equal(Slice.Replicas.AsEnumerable(), next.Replicas.AsEnumerable());
        Assert.Null(WriteReplication.Dropping(Slice, [D], A));
        Assert.Null(WriteReplication.Dropping(Slice, [C], B));
    }

    [Fact]
    public void A_write_is_acknowledged_only_with_the_quorum_and_every_in_sync_replica_of_the_latest_record()
    {
        PieSlice inSync = Slice.Next([A, B, C], [A, B, C]);
        Assert.Null(WriteReplication.Refusal("k", new HashSet<NodeId> { A, B, C }, inSync, 2, hasMajorityToKeep: true, 3, inSync, [], false, A));
        Assert.Contains("reached 1 of the 2", WriteReplication.Refusal("k", new HashSet<NodeId> { A }, inSync, 2, hasMajorityToKeep: true, 1, inSync, [], false, A));

        // B was dropped meanwhile: A and C make the quorum and every in-sync replica.
        PieSlice withoutB = inSync.Next(inSync.Replicas, [A, C]);
        Assert.Null(WriteReplication.Refusal("k", new HashSet<NodeId> { A, C }, inSync, 2, hasMajorityToKeep: true, 2, withoutB, [], false, A));

        // The record changed while the write travelled: a replica joined the in-sync set, or A was deposed.
        PieSlice withD = inSync.Next([A, B, C, D], [A, B, C, D]);
        Assert.Contains("changed during the write", WriteReplication.Refusal("k", new HashSet<NodeId> { A, B, C }, inSync, 2, hasMajorityToKeep: true, 3, withD, [], false, A));
        PieSlice ledByB = inSync.Next([B, A, C], [B, A, C]);
        Assert.Contains("changed during the write", WriteReplication.Refusal("k", new HashSet<NodeId> { A, B, C }, inSync, 2, hasMajorityToKeep: true, 3, ledByB, [], false, A));
    }

    [Fact]
    public void A_replica_taken_out_by_a_record_no_majority_holds_yet_must_hold_the_write_too()
    {
        PieSlice withoutB = Slice.Next([A, B, C], [A, C]);
        Assert.Contains("did not reach", WriteReplication.Refusal("k", new HashSet<NodeId> { A, C }, withoutB, 2, hasMajorityToKeep: true, 2, withoutB, [B], false, A));
        Assert.Null(WriteReplication.Refusal("k", new HashSet<NodeId> { A, B, C }, withoutB, 2, hasMajorityToKeep: true, 2, withoutB, [B], false, A));
        Assert.Null(WriteReplication.Refusal("k", new HashSet<NodeId> { A, C }, withoutB, 2, hasMajorityToKeep: true, 2, withoutB, [], false, A));
    }

    [Fact]
    public void No_write_begins_or_is_acknowledged_while_the_slice_is_blocked_or_a_required_replica_is_out_of_reach()
    {
        PieSlice inSync = Slice.Next([A, B, C], [A, B, C]);
        Assert.Null(WriteReplication.RefusalBeforeApply(inSync, [], blocked: false, Everyone));
        Assert.Contains("came to lead", WriteReplication.RefusalBeforeApply(inSync, [], blocked: true, Everyone));
        Assert.Contains("out of reach", WriteReplication.RefusalBeforeApply(inSync, [D], blocked: false, n => n != D));
        Assert.Null(WriteReplication.RefusalBeforeApply(inSync, [D], blocked: false, Everyone));
        Assert.Contains("handed to another primary", WriteReplication.RefusalBeforeApply(inSync, [], blocked: false, Everyone, handingOver: true));
        Assert.Contains("came to lead", WriteReplication.Refusal("k", new HashSet<NodeId> { A, B, C }, inSync, 2, hasMajorityToKeep: true, 3, inSync, [], true, A));
        Assert.Equal([A, B, C, D], WriteReplication.AlsoTo(inSync, [D]).Order());
        Assert.Equal(inSync.Replicas.AsEnumerable(), WriteReplication.AlsoTo(inSync, []));
    }

    [Fact]
    public void In_a_farm_of_two_voters_the_write_goes_on_alone_once_the_other_left_the_in_sync_set()
    {
        PieSlice two = SliceMap.CreateInitial(1, [A, B]).Find(0);
        PieSlice alone = two.Next(two.Replicas, [A]);
        Assert.Null(WriteReplication.Refusal("k", new HashSet<NodeId> { A }, two, 2, hasMajorityToKeep: false, 1, alone, [], false, A));
        Assert.NotNull(WriteReplication.Refusal("k", new HashSet<NodeId> { A }, two, 2, hasMajorityToKeep: true, 1, alone, [], false, A));
        Assert.True(WriteReplication.IsAlone(alone.Next([A], [A]), alone.Next([A], [A]), A));
        Assert.False(WriteReplication.IsAlone(two, alone.Next([A], [A]), A));
    }
}
