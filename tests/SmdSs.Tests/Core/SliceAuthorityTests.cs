using SmdSs.Core;
using SmdSs.Model;

namespace SmdSs.Tests.Core;

public sealed class SliceAuthorityTests
{
    private const long LeaseMs = 2_000;
    private static readonly NodeId A = new(1);
    private static readonly NodeId B = new(2);
    private static readonly NodeId C = new(3);

    // One slice led by A, replicated on B and C, all in sync; A has led it since long ago.
    private static SliceAuthority LedByA(long nowMs = 100_000) =>
        new(A, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, nowMs - LeaseMs);

    private static PieSlice Slice(SliceAuthority authority) => authority.Map.Find(0);

    private static PieSlice Dropping(PieSlice slice, NodeId replica) => slice.Next(slice.Replicas, slice.InSync.Where(n => n != replica));

    private static (uint, long)[] Ask(PieSlice slice) => [(slice.Range.Start, slice.Epoch)];

    [Fact]
    public void A_replica_is_dropped_only_once_the_lease_granted_to_it_ran_out_and_gets_none_meanwhile()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        Assert.Single(authority.Grant(B, Ask(slice), 100_000, mayGrant: true));

        PendingCommit commit = authority.BeginCommit(slice, Dropping(slice, B));
        Assert.Equal(100_000 + LeaseMs, authority.ReadyAtMs(commit));
        Assert.Empty(authority.Grant(B, Ask(slice), 100_500, mayGrant: true));
        Assert.Single(authority.Grant(C, Ask(slice), 100_500, mayGrant: true));

        Assert.False(authority.EndCommit(commit, 100_000 + LeaseMs - 1, mayCommit: true).IsCommitted);
        commit = authority.BeginCommit(slice, Dropping(slice, B));
        CommitOutcome outcome = authority.EndCommit(commit, 100_000 + LeaseMs, mayCommit: true);
        Assert.True(outcome.IsCommitted, outcome.Refusal);
        Assert.False(Slice(authority).IsInSync(B));
        Assert.Empty(authority.Grant(B, Ask(Slice(authority)), 102_500, mayGrant: true));
    }

    [Fact]
    public void No_write_begins_on_a_slice_while_a_commit_hands_it_to_another_primary()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        PendingCommit adding = authority.BeginCommit(slice, slice.Next([A, B, C, new NodeId(4)], slice.InSync));
        Assert.False(authority.IsHandingOver(0));

        PendingCommit first = authority.BeginCommit(slice, slice.Next([B, A, C], slice.InSync));
        PendingCommit second = authority.BeginCommit(slice, slice.Next([B, A, C], slice.InSync));
        Assert.False(authority.IsHandingOver(0));

        // Up once the host waits for the writes in flight; a commit that takes no role away raises none.
        authority.FenceHandOver(first);
        authority.FenceHandOver(second);
        authority.FenceHandOver(second);
        authority.FenceHandOver(adding);
        Assert.True(authority.IsHandingOver(0));
        Assert.True(authority.IsHandingOverKey(0xdead_beef));
        authority.Abandon(first);
        Assert.True(authority.IsHandingOver(0));

        Assert.True(authority.EndCommit(second, 100_000, mayCommit: true).IsCommitted);
        Assert.False(authority.IsHandingOver(0));
        authority.Abandon(adding);
        Assert.False(authority.IsHandingOver(0));
    }

    [Fact]
    public void A_commit_that_drops_nobody_is_ready_at_once_and_a_host_may_subtract_its_clock_from_when()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        PendingCommit commit = authority.BeginCommit(slice, slice.Next([A, B, C, new NodeId(4)], slice.InSync));
        Assert.InRange(authority.ReadyAtMs(commit) - 100_000, long.MinValue / 2 - 100_000, -1);
        Assert.True(authority.EndCommit(commit, 100_000, mayCommit: true).IsCommitted);
    }

    [Fact]
    public void A_commit_that_fails_gives_back_no_lease_another_pending_commit_still_holds_back()
    {
        // Two commits drop B at once (a write path's and a placement round's); the first to end
        // fails. Its end must not let B renew its lease while the second still waits it out:
        // renewed every 500 ms, B's lease would hold the second commit (and the write behind it)
        // back as long as B lives.
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        authority.Grant(B, Ask(slice), 100_000, mayGrant: true);
        PendingCommit first = authority.BeginCommit(slice, Dropping(slice, B));
        PendingCommit second = authority.BeginCommit(slice, Dropping(slice, B));

        Assert.False(authority.EndCommit(first, 101_000, mayCommit: false).IsCommitted);
        Assert.Empty(authority.Grant(B, Ask(slice), 101_000, mayGrant: true));
        Assert.Equal(100_000 + LeaseMs, authority.ReadyAtMs(second));
        Assert.True(authority.EndCommit(second, 100_000 + LeaseMs, mayCommit: true).IsCommitted);
    }

    [Fact]
    public void An_abandoned_commit_lets_the_replica_have_leases_again()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        PendingCommit commit = authority.BeginCommit(slice, Dropping(slice, B));
        Assert.Empty(authority.Grant(B, Ask(slice), 100_000, mayGrant: true));

        authority.Abandon(commit);
        Assert.Single(authority.Grant(B, Ask(slice), 100_000, mayGrant: true));
        Assert.False(authority.EndCommit(commit, 200_000, mayCommit: true).IsCommitted);
        Assert.True(Slice(authority).IsInSync(B));
    }

    [Fact]
    public void A_new_primary_drops_no_replica_before_a_lease_its_predecessor_granted_could_have_run_out()
    {
        var authority = new SliceAuthority(B, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, 0);
        PieSlice slice = Slice(authority);
        PieSlice takeover = slice.Next([B, C, A], [B, C]);
        authority.Merge([takeover], 50_000, out _);

        PendingCommit commit = authority.BeginCommit(takeover, Dropping(takeover, C));
        Assert.Equal(50_000 + LeaseMs, authority.ReadyAtMs(commit));
        Assert.False(authority.EndCommit(commit, 50_000 + LeaseMs - 1, mayCommit: true).IsCommitted);
        Assert.Equal(50_000, authority.Leases.PrimarySince(0));
        Assert.Equal(50_000, authority.Leases.TookOverSince(0));
    }

    [Fact]
    public void A_node_that_takes_a_slice_over_or_restarts_leading_it_counts_as_newly_leading()
    {
        var restarted = new SliceAuthority(A, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, 7_000);
        Assert.Equal(7_000, restarted.Leases.PrimarySince(0));
        Assert.Equal(7_000, restarted.Leases.TookOverSince(0));

        var replica = new SliceAuthority(B, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, 0);
        PieSlice slice = Slice(replica);
        PieSlice takeover = slice.Next([B, C, A], [B, C]);
        Assert.True(replica.EndCommit(replica.BeginCommit(slice, takeover), 60_000, mayCommit: true).IsCommitted);
        Assert.Equal(60_000, replica.Leases.PrimarySince(0));
        Assert.Equal(60_000 + LeaseMs, replica.ReadyAtMs(replica.BeginCommit(takeover, Dropping(takeover, C))));
    }

    [Fact]
    public void A_commit_begun_before_a_restart_is_refused_by_the_new_authority_and_holds_nothing_back()
    {
        SliceAuthority before = LedByA();
        PieSlice slice = Slice(before);
        PendingCommit outlived = before.BeginCommit(slice, Dropping(slice, B));

        SliceAuthority after = LedByA();
        PendingCommit current = after.BeginCommit(slice, Dropping(slice, B));
        after.Abandon(outlived);
        Assert.Equal("begun before this node restarted", after.EndCommit(outlived, 200_000, mayCommit: true).Refusal);
        Assert.Empty(after.Grant(B, Ask(slice), 100_000, mayGrant: true));
        Assert.True(after.EndCommit(current, 200_000, mayCommit: true).IsCommitted);
    }

    [Fact]
    public void A_commit_goes_in_only_over_the_record_it_was_based_on_and_with_the_hosts_consent()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        PendingCommit stale = authority.BeginCommit(slice, Dropping(slice, C));
        PendingCommit refused = authority.BeginCommit(slice, Dropping(slice, C));
        Assert.False(authority.EndCommit(refused, 100_000, mayCommit: false).IsCommitted);
        Assert.True(authority.EndCommit(authority.BeginCommit(slice, Dropping(slice, B)), 100_000, mayCommit: true).IsCommitted);

        CommitOutcome outcome = authority.EndCommit(stale, 100_000, mayCommit: true);
        Assert.False(outcome.IsCommitted);
        Assert.Equal("the record changed meanwhile", outcome.Refusal);
        Assert.Equal("ended already", authority.EndCommit(stale, 100_000, mayCommit: true).Refusal);
    }

    [Fact]
    public void Leases_go_only_to_in_sync_replicas_asking_for_the_record_this_primary_leads()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        Assert.Empty(authority.Grant(B, [(slice.Range.Start, slice.Epoch + 1)], 100_000, mayGrant: true));
        Assert.Empty(authority.Grant(B, [(slice.Range.Start + 1, slice.Epoch)], 100_000, mayGrant: true));
        Assert.Empty(authority.Grant(B, Ask(slice), 100_000, mayGrant: false));
        Assert.Empty(authority.Grant(A, Ask(slice), 100_000, mayGrant: true));
        Assert.Equal(0, authority.GrantedCount(100_000));

        var replica = new SliceAuthority(B, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, 0);
        Assert.Empty(replica.Grant(C, Ask(slice), 100_000, mayGrant: true));
    }

    [Fact]
    public void A_held_lease_runs_from_when_it_was_asked_for_and_only_for_its_primary()
    {
        var replica = new SliceAuthority(B, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, 0);
        replica.Held(A, [0u], askedAtMs: 10_000);
        Assert.True(replica.Leases.Holds(0, A, 10_000 + LeaseMs - 1));
        Assert.False(replica.Leases.Holds(0, A, 10_000 + LeaseMs));
        Assert.False(replica.Leases.Holds(0, C, 10_001));

        ReadLeases before = replica.Leases;
        replica.DropAllHeld();
        Assert.False(replica.Leases.Holds(0, A, 10_001));
        Assert.True(before.Holds(0, A, 10_001));
    }

    [Fact]
    public void A_released_lease_lets_its_replica_go_at_once()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        authority.Grant(B, Ask(slice), 100_000, mayGrant: true);
        authority.Released(0, B);
        PendingCommit commit = authority.BeginCommit(slice, Dropping(slice, B));
        Assert.True(authority.EndCommit(commit, 100_001, mayCommit: true).IsCommitted);
    }

    [Fact]
    public void The_upper_half_of_a_split_is_newly_led_for_leases_but_taken_over_when_the_whole_was()
    {
        // Every renewal of the whole reached its primary: the half's sliding entries need no new primary's leniency.
        var authority = new SliceAuthority(A, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, 3_000);
        PieSlice slice = Slice(authority);
        Assert.True(authority.TrySplit(slice, 100_000, mayCommit: true));

        uint upper = slice.Range.Midpoint;
        Assert.Equal(100_000, authority.Leases.PrimarySince(upper));
        Assert.Equal(3_000, authority.Leases.TookOverSince(upper));
        Assert.Equal(3_000, authority.Leases.TookOverSince(slice.Range.Start));
    }

    [Fact]
    public void The_upper_half_of_a_split_counts_as_newly_led()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        authority.Grant(B, Ask(slice), 99_000, mayGrant: true);
        Assert.False(authority.TrySplit(slice with { Epoch = slice.Epoch + 5 }, 100_000, mayCommit: true));
        Assert.False(authority.TrySplit(slice, 100_000, mayCommit: false));
        Assert.True(authority.TrySplit(slice, 100_000, mayCommit: true));

        PieSlice upper = authority.Map.Find(slice.Range.Midpoint);
        Assert.Equal(slice.Range.Midpoint, upper.Range.Start);
        Assert.Equal(100_000, authority.Leases.PrimarySince(upper.Range.Start));
        PendingCommit commit = authority.BeginCommit(upper, Dropping(upper, C));
        Assert.Equal(100_000 + LeaseMs, authority.ReadyAtMs(commit));
    }

    [Fact]
    public void Merging_returns_each_change_with_the_record_it_replaced_and_keeps_older_records_out()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        PieSlice newer = slice.Next([B, A, C], [B, A, C]);
        List<(PieSlice Before, PieSlice After)> changes = authority.Merge([newer, slice], 100_000, out List<PieSlice> unknown);

        (PieSlice before, PieSlice after) = Assert.Single(changes);
        Assert.Equal(slice, before);
        Assert.Equal(newer, after);
        Assert.Empty(unknown);
        Assert.Empty(authority.Merge([slice], 100_000, out _));
        Assert.Empty(authority.Grant(B, Ask(newer), 100_000, mayGrant: true));
    }

    [Fact]
    public void A_record_that_takes_a_replica_out_binds_writes_to_it_until_a_majority_holds_it()
    {
        SliceAuthority authority = LedByA();
        authority.Confirmed(0, Slice(authority).Epoch);
        Assert.Empty(authority.WriteRequires(0));
        Assert.False(authority.IsWriteBlocked(0));

        PieSlice slice = Slice(authority);
        PieSlice withoutB = Dropping(slice, B);
        Assert.True(authority.EndCommit(authority.BeginCommit(slice, withoutB), 110_000, mayCommit: true).IsCommitted);
        Assert.Equal([B], authority.WriteRequires(0).AsEnumerable());
        Assert.Equal([withoutB], authority.UnconfirmedRecords());

        // C is taken out too before the first record is confirmed: both bind until the later one is.
        PieSlice withoutC = Dropping(withoutB, C);
        Assert.True(authority.EndCommit(authority.BeginCommit(withoutB, withoutC), 110_000, mayCommit: true).IsCommitted);
        Assert.Equal([B, C], authority.WriteRequires(0).Order());
        authority.Confirmed(0, withoutB.Epoch);
        Assert.Equal([B, C], authority.WriteRequires(0).Order());
        authority.Confirmed(0, withoutC.Epoch);
        Assert.Empty(authority.WriteRequires(0));
        Assert.Empty(authority.UnconfirmedRecords());

        // A record that takes nobody out binds nothing.
        PieSlice backB = withoutC.Next(withoutC.Replicas, [A, B]);
        Assert.True(authority.EndCommit(authority.BeginCommit(withoutC, backB), 110_000, mayCommit: true).IsCommitted);
        Assert.Empty(authority.WriteRequires(0));
    }

    [Fact]
    public void After_a_restart_no_write_to_a_led_slice_is_taken_until_its_record_is_confirmed()
    {
        // A record committed just before the restart may have taken a replica off the list
        // altogether (a move): which ones is unknown, so none binds; the slice is blocked.
        SliceAuthority authority = LedByA();
        Assert.True(authority.IsWriteBlocked(0));
        authority.Confirmed(0, Slice(authority).Epoch - 1);
        Assert.True(authority.IsWriteBlocked(0));
        authority.Confirmed(0, Slice(authority).Epoch);
        Assert.False(authority.IsWriteBlocked(0));
        Assert.Empty(authority.WriteRequires(0));

        var replica = new SliceAuthority(B, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, 0);
        Assert.False(replica.IsWriteBlocked(0));
        Assert.Empty(replica.UnconfirmedRecords());

        // Alone in a slice's record: nobody else could hold a newer one.
        var alone = new SliceAuthority(A, SliceMap.CreateInitial(1, [A]), LeaseMs, 0);
        Assert.False(alone.IsWriteBlocked(0));
        Assert.Empty(alone.UnconfirmedRecords());
    }

    [Fact]
    public void A_takeover_binds_writes_to_every_replica_its_predecessor_listed_and_a_lost_lead_to_none()
    {
        var authority = new SliceAuthority(B, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, 0);
        PieSlice slice = Slice(authority);
        PieSlice takeover = slice.Next([B, C, A], [B, C]) with { Epoch = slice.Epoch + 1024 };
        Assert.True(authority.EndCommit(authority.BeginCommit(slice, takeover), 100_000, mayCommit: true).IsCommitted);
        Assert.True(authority.IsWriteBlocked(0));
        Assert.Equal([A, C], authority.WriteRequires(0).Order());

        // A newer record led by another node: nothing of this node's binds any more.
        PieSlice ledByC = takeover.Next([C, B, A], [C, B]) with { Epoch = takeover.Epoch + 1024 };
        authority.Merge([ledByC], 100_500, out _);
        Assert.Empty(authority.WriteRequires(0));
        Assert.False(authority.IsWriteBlocked(0));
        Assert.Empty(authority.UnconfirmedRecords());

        // Handed back by a record learned from a peer: blocked again until confirmed.
        PieSlice backToB = ledByC.Next([B, C, A], [B, C]) with { Epoch = ledByC.Epoch + 1 };
        authority.Merge([backToB], 101_000, out _);
        Assert.True(authority.IsWriteBlocked(0));
        authority.Confirmed(0, backToB.Epoch);
        Assert.False(authority.IsWriteBlocked(0));
    }

    [Fact]
    public void Both_halves_of_a_split_keep_what_binds_writes()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        Assert.True(authority.TrySplit(slice, 100_000, mayCommit: true));
        uint middle = slice.Range.Midpoint;
        Assert.True(authority.IsWriteBlocked(middle));
        authority.Confirmed(middle, authority.Map.Find(middle).Epoch);
        Assert.False(authority.IsWriteBlocked(middle));
        Assert.True(authority.IsWriteBlocked(0));
    }

    // A's record of the whole slice, committed at the epoch a takeover gives (1,025 past the one held).
    private static PieSlice CommitAtATakeoversEpoch(SliceAuthority authority)
    {
        PieSlice whole = Slice(authority);
        PieSlice next = whole.Next([A, B, C], [A, B, C]) with { Epoch = whole.Epoch + 1025 };
        Assert.True(authority.EndCommit(authority.BeginCommit(whole, next), 100_000, mayCommit: true).IsCommitted);
        return next;
    }

    /// <summary>
    /// A took the whole slice over; the old primary had split it meanwhile, and its older record
    /// of the lower half reaches A. A's map is cut, both pieces keeping A's record and epoch: a
    /// replica that has not learned the cut takes (start, epoch) for the whole slice, so the
    /// pieces get no lease and no write until A commits each at the next epoch.
    /// </summary>
    [Fact]
    public void Pieces_cut_keeping_the_wholes_record_get_no_lease_and_no_write_until_stamped_anew()
    {
        SliceAuthority authority = LedByA();
        PieSlice whole = Slice(authority);
        PieSlice takenOver = CommitAtATakeoversEpoch(authority);
        authority.Confirmed(0, takenOver.Epoch);
        Assert.False(authority.IsWriteBlocked(0));
        PieSlice staleLowerHalf = whole with { Range = whole.Range.SplitAt(whole.Range.Midpoint).Low, Epoch = whole.Epoch + 1 };

        authority.Merge([staleLowerHalf], 100_000, out _);

        List<PieSlice> toRestamp = authority.ToRestamp();
        Assert.Equal(2, toRestamp.Count);
        Assert.All(toRestamp, p => Assert.Equal(takenOver.Epoch, p.Epoch));
        Assert.Empty(authority.Grant(B, Ask(toRestamp[0]), 100_000, mayGrant: true));
        Assert.True(authority.IsWriteBlocked(toRestamp[0].Range.Start));
        Assert.True(authority.IsWriteBlocked(toRestamp[1].Range.Start));

        PieSlice lower = toRestamp[0];
        Assert.Equal(0u, lower.Range.Start);
        Assert.True(authority.EndCommit(authority.BeginCommit(lower, lower.Next(lower.Replicas, lower.InSync)), 100_000, mayCommit: true).IsCommitted);
        Assert.Single(authority.ToRestamp());
        Assert.False(authority.IsWriteBlocked(lower.Range.Start));
        Assert.Single(authority.Grant(B, Ask(Slice(authority)), 100_000, mayGrant: true));

        // The other piece's restamp stays pending through later merges (which prune only what can no longer match).
        authority.Merge([staleLowerHalf], 100_000, out _);
        Assert.Equal([toRestamp[1].Range.Start], authority.ToRestamp().Select(s => s.Range.Start));
    }

    /// <summary>
    /// A leads the whole slice under a takeover not yet confirmed (no write at all); a rival's
    /// record of the lower half reaches it. The upper piece, still A's, stays blocked whichever
    /// piece the merge lists first.
    /// </summary>
    [Fact]
    public void A_piece_still_led_keeps_what_bound_the_wholes_writes_when_another_piece_changes_hands()
    {
        SliceAuthority authority = LedByA();
        PieSlice whole = Slice(authority);
        PieSlice takenOver = CommitAtATakeoversEpoch(authority);
        Assert.True(authority.IsWriteBlocked(0));
        PieSlice rivalsLowerHalf = new(whole.Range.SplitAt(whole.Range.Midpoint).Low, takenOver.Epoch + 1025, [B, A, C], [B, A, C]);

        authority.Merge([rivalsLowerHalf], 100_000, out _);

        Assert.Equal(B, Slice(authority).Primary);
        PieSlice upper = authority.Map.Find(whole.Range.Midpoint);
        Assert.NotEmpty(authority.WriteRequires(upper.Range.Start));

        // Stamped anew, it still waits for a majority to hold A's record, as the whole did.
        Assert.True(authority.EndCommit(authority.BeginCommit(upper, upper.Next(upper.Replicas, upper.InSync)), 100_000, mayCommit: true).IsCommitted);
        Assert.True(authority.IsWriteBlocked(upper.Range.Start));
    }
}
