using SmdSs.Core;
using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs.Tests.Core;

public sealed class MajorityContactTests
{
    private const long PingTimeoutMs = 800;
    private static readonly NodeId A = new(1);
    private static readonly NodeId B = new(2);
    private static readonly NodeId C = new(3);
    private static readonly NodeId D = new(4);
    private static readonly NodeId E = new(5);
    private static readonly NodeId[] Five = [A, B, C, D, E];

    private readonly FailureDetector _detector = new(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5));

    private MajorityContact OfA() => new(A, _detector, PingTimeoutMs);

    private void Hear(long nowMs, params NodeId[] nodes)
    {
        foreach (NodeId node in nodes)
        {
            _detector.Heard(node, nowMs);
        }
    }

    [Fact]
    public void A_primary_reads_locally_only_while_it_heard_a_majority_within_the_window()
    {
        MajorityContact contact = OfA();
        Hear(10_000, B);
        contact.Refresh(Five, 10_000);
        Assert.Equal(0, contact.ReadQuorumUntilMs);

        Hear(10_000, C);
        contact.Refresh(Five, 10_000);
        Assert.Equal(10_000 + MajorityContact.ReadValidMs, contact.ReadQuorumUntilMs);

        // Heard 1 s ago is no longer within the window.
        contact.Refresh(Five, 10_000 + MajorityContact.ReadWindowMs + 1);
        Assert.Equal(10_000 + MajorityContact.ReadValidMs, contact.ReadQuorumUntilMs);
        Assert.False(contact.ResyncNeeded);
    }

    [Fact]
    public void After_a_lapse_longer_than_a_hiccup_hearing_a_majority_is_not_enough_until_maps_were_exchanged_with_one()
    {
        MajorityContact contact = OfA();
        Hear(10_000, B, C);
        contact.Refresh(Five, 10_000);
        long until = contact.ReadQuorumUntilMs;

        // Silent past the quorum's end and a window more: a resync is needed.
        contact.Refresh(Five, until + MajorityContact.ReadWindowMs);
        Assert.True(contact.ResyncNeeded);

        long now = until + MajorityContact.ReadWindowMs + 500;
        Hear(now, B, C, D);
        contact.Refresh(Five, now);
        Assert.Equal(until, contact.ReadQuorumUntilMs);
        Assert.True(contact.IsResyncing(Five, now));

        // One peer could be as stale as this node: a majority of exchanges it takes.
        contact.Exchanged(B, now, Five, now);
        Assert.Equal(until, contact.ReadQuorumUntilMs);
        contact.Exchanged(C, now, Five, now + 10);
        Assert.False(contact.ResyncNeeded);
        Assert.Equal(now + 10 + MajorityContact.ReadValidMs, contact.ReadQuorumUntilMs);
    }

    [Fact]
    public void Exchanges_with_a_majority_bring_the_quorum_back_only_while_it_is_heard()
    {
        MajorityContact contact = OfA();
        Hear(10_000, B, C);
        contact.Refresh(Five, 10_000);
        long now = 20_000;
        contact.Refresh(Five, now);
        Assert.True(contact.ResyncNeeded);

        contact.Exchanged(B, now, Five, now);
        contact.Exchanged(C, now, Five, now);
        Assert.True(contact.ResyncNeeded);

        // Exchanges count (until the next lapse), hearing comes later.
        Hear(now + 100, B, C);
        contact.Refresh(Five, now + 100);
        Assert.True(contact.ResyncNeeded);
        contact.Exchanged(D, now + 100, Five, now + 100);
        Assert.False(contact.ResyncNeeded);
    }

    [Fact]
    public void With_two_voters_or_fewer_there_is_no_majority_to_lose()
    {
        MajorityContact contact = OfA();
        contact.Refresh([A, B], 10_000);
        Assert.Equal(10_000 + MajorityContact.ReadValidMs, contact.ReadQuorumUntilMs);
        contact.Refresh([A, B], 60_000);
        Assert.False(contact.ResyncNeeded);
        Assert.Equal(60_000 + MajorityContact.ReadValidMs, contact.ReadQuorumUntilMs);
        Assert.False(MajorityContact.HasMajorityToKeep(A, [A, B, B]));
        Assert.True(MajorityContact.HasMajorityToKeep(A, [B, C]));
    }

    [Fact]
    public void The_voters_are_the_serving_nodes_and_every_replica_each_once()
    {
        NodeMap nodes = NodeMap.Of([new NodeRecord(A, "a", NodeState.Up, 1, 0, 0), new NodeRecord(B, "b", NodeState.Down, 1, 0, 0), new NodeRecord(E, "e", NodeState.Up, 1, 0, 0)]);
        SliceMap map = SliceMap.CreateInitial(2, [A, B, C]);
        List<NodeId> voters = MajorityContact.Voters(nodes, map);
        Assert.Equal([A, B, C, E], voters.Order());
        Assert.Equal(4, voters.Count);
    }

    [Fact]
    public void A_silent_primary_is_taken_over_only_while_pings_keep_failing_and_after_exchanges_with_a_majority_since_they_began()
    {
        MajorityContact contact = OfA();
        Hear(1_000, B, C, D, E);
        long heardSince(long now) => now - 5_000;

        // Heard within the detection timeout: never.
        Assert.False(contact.MayTakeOverFrom(B, Five, heardSince(3_000), 3_000));

        // Silent, but no ping failed yet.
        Assert.False(contact.MayTakeOverFrom(B, Five, heardSince(7_000), 7_000));
        contact.PingFailed(B, 7_000);
        Assert.Equal(7_000, contact.PingsFailingSince(B));

        // Exchanges before the pings began do not count; the primary's own never does.
        contact.Exchanged(C, 6_900, Five, 7_000);
        contact.Exchanged(D, 7_100, Five, 7_100);
        contact.Exchanged(B, 7_100, Five, 7_100);
        Assert.False(contact.MayTakeOverFrom(B, Five, heardSince(7_200), 7_200));
        Assert.True(contact.ExchangedAfter(D, 7_000));
        Assert.False(contact.ExchangedAfter(C, 7_000));

        contact.Exchanged(E, 7_200, Five, 7_200);
        Assert.True(contact.MayTakeOverFrom(B, Five, heardSince(7_300), 7_300));

        // The last failure must be fresh: within a ping's timeout and two intervals.
        long stale = 7_000 + PingTimeoutMs + (2 * MajorityContact.TakeoverPingIntervalMs) + 1;
        Assert.False(contact.MayTakeOverFrom(B, Five, heardSince(stale), stale));
        contact.PingFailed(B, stale);
        Assert.True(contact.MayTakeOverFrom(B, Five, heardSince(stale), stale));
        Assert.Equal(7_000, contact.PingsFailingSince(B));

        // Pinged back: the run ends.
        contact.PingsEnded(B);
        Assert.False(contact.MayTakeOverFrom(B, Five, heardSince(stale), stale));
    }

    [Fact]
    public void A_primary_heard_after_a_run_of_failed_pings_began_starts_a_new_run_and_its_exchanges_again()
    {
        MajorityContact contact = OfA();
        Hear(1_000, B);
        contact.PingFailed(B, 7_000);
        contact.Exchanged(C, 7_100, Five, 7_100);
        contact.Exchanged(D, 7_100, Five, 7_100);

        // Heard at 8,000 (a partition healed for a moment), silent again.
        Assert.True(contact.MayTakeOverFrom(B, Five, 2_200, 7_200));
        Hear(8_000, B);
        Assert.False(contact.MayTakeOverFrom(B, Five, 7_900, 8_100));
        Assert.False(contact.MayTakeOverFrom(B, Five, 8_050, 8_100));
        Assert.False(contact.MayTakeOverFrom(B, Five, 7_900, 14_000));
        contact.PingFailed(B, 14_000);
        Assert.Equal(14_000, contact.PingsFailingSince(B));
        Assert.False(contact.MayTakeOverFrom(B, Five, 8_500, 14_000));
        contact.Exchanged(C, 14_100, Five, 14_100);
        contact.Exchanged(D, 14_100, Five, 14_100);
        Assert.True(contact.MayTakeOverFrom(B, Five, 8_500, 14_200));
    }

    [Fact]
    public void A_forgotten_node_leaves_nothing_behind()
    {
        MajorityContact contact = OfA();
        contact.PingFailed(B, 7_000);
        contact.Exchanged(B, 7_100, Five, 7_100);
        contact.Forget(B);
        Assert.Null(contact.PingsFailingSince(B));
        Assert.False(contact.ExchangedAfter(B, 0));
    }
}
