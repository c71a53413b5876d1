using SmdSs.Core;
using SmdSs.Model;

namespace SmdSs.Tests.Core;

/// <summary>The steps of one slice commit (<see cref="SliceCommit"/>), as the host and the placement simulation both run them.</summary>
public sealed class SliceCommitTests
{
    private const long LeaseMs = 2_000;
    private const long PollMs = 10;
    private const long Now = 100_000;
    private static readonly NodeId A = new(1);
    private static readonly NodeId B = new(2);
    private static readonly NodeId C = new(3);
    private static readonly NodeId D = new(4);

    // One slice led by A, replicated on B and C, all in sync; A has led it since long ago, its record confirmed.
    private static SliceAuthority LedByA()
    {
        var authority = new SliceAuthority(A, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, Now - LeaseMs);
        authority.Confirmed(0, authority.Map.Find(0).Epoch);
        return authority;
    }

    private static PieSlice Slice(SliceAuthority authority) => authority.Map.Find(0);

    private static PieSlice HandedToB(PieSlice slice) => slice.Next([B, A, C], slice.InSync);

    [Fact]
    public void A_commit_that_drops_a_replica_waits_until_its_lease_ran_out_then_asks_the_host_and_goes_in()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        Assert.Single(authority.Grant(B, [(slice.Range.Start, slice.Epoch)], Now, mayGrant: true));
        var commit = new SliceCommit(authority, A, slice, slice.Next(slice.Replicas, [A, C]), PollMs);

        Assert.Equal(new CommitStep(CommitStepKind.Wait, Now + LeaseMs), commit.Step(Now, withdrawn: false, writingInSlice: false));
        Assert.Equal(CommitStepKind.Decide, commit.Step(Now + LeaseMs, withdrawn: false, writingInSlice: false).Kind);

        CommitResult result = commit.End(Now + LeaseMs, mayCommit: true);
        Assert.True(result.IsCommitted, result.Outcome.Refusal);
        Assert.False(result.InheritsAnswers);
        // It took B out: writes must reach B until a majority holds the record, so the host asks now.
        Assert.True(result.AsksConfirmation);
        Assert.False(Slice(authority).IsInSync(B));
    }

    [Fact]
    public void A_hand_over_fences_the_slice_waits_for_writes_in_flight_sends_the_renewals_once_and_then_decides()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        var commit = new SliceCommit(authority, A, slice, HandedToB(slice), PollMs);
        Assert.True(commit.HandsOver);
        Assert.False(authority.IsHandingOver(0));

        // The fence goes up first, and the writes in flight are read again after it.
        Assert.Equal(new CommitStep(CommitStepKind.Wait, Now), commit.Step(Now, withdrawn: false, writingInSlice: false));
        Assert.True(authority.IsHandingOver(0));
        Assert.Equal(new CommitStep(CommitStepKind.Wait, Now + PollMs), commit.Step(Now, withdrawn: false, writingInSlice: true));
        Assert.True(commit.WaitedForWrites);

        Assert.Equal(CommitStepKind.SendPendingRenewals, commit.Step(Now + PollMs, withdrawn: false, writingInSlice: false).Kind);
        Assert.Equal(CommitStepKind.Decide, commit.Step(Now + PollMs + 1, withdrawn: false, writingInSlice: false).Kind);

        CommitResult result = commit.End(Now + PollMs + 1, mayCommit: true);
        Assert.True(result.IsCommitted);
        // Nobody taken out, the role given away: nothing to confirm, no answers to inherit.
        Assert.False(result.AsksConfirmation);
        Assert.False(result.InheritsAnswers);
        Assert.False(authority.IsHandingOver(0));
        Assert.Equal(B, Slice(authority).Primary);
    }

    [Fact]
    public void A_hand_over_gives_up_when_writes_outlast_its_wait_and_takes_its_fence_down()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        var commit = new SliceCommit(authority, A, slice, HandedToB(slice), PollMs);

        Assert.Equal(new CommitStep(CommitStepKind.Wait, Now), commit.Step(Now, withdrawn: false, writingInSlice: true));
        Assert.Equal(CommitStepKind.Wait, commit.Step(Now, withdrawn: false, writingInSlice: true).Kind);
        Assert.Equal(CommitStepKind.Wait, commit.Step(Now + SliceCommit.HandOverWritesWaitMs - 1, withdrawn: false, writingInSlice: true).Kind);
        Assert.Equal(CommitStepKind.GiveUp, commit.Step(Now + SliceCommit.HandOverWritesWaitMs, withdrawn: false, writingInSlice: true).Kind);

        Assert.False(authority.IsHandingOver(0));
        Assert.Equal(CommitStepKind.GiveUp, commit.Step(Now + SliceCommit.HandOverWritesWaitMs + 1, withdrawn: false, writingInSlice: false).Kind);
        Assert.False(commit.End(Now + SliceCommit.HandOverWritesWaitMs + 1, mayCommit: true).IsCommitted);
        Assert.Equal(A, Slice(authority).Primary);
    }

    [Fact]
    public void A_hand_over_stops_waiting_for_writes_once_the_record_changed_under_it()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        var commit = new SliceCommit(authority, A, slice, HandedToB(slice), PollMs);
        Assert.Equal(CommitStepKind.Wait, commit.Step(Now, withdrawn: false, writingInSlice: true).Kind);
        Assert.Equal(CommitStepKind.Wait, commit.Step(Now, withdrawn: false, writingInSlice: true).Kind);

        // A write that missed C took it out meanwhile (no lease granted to C, so at once).
        PendingCommit drop = authority.BeginCommit(slice, slice.Next(slice.Replicas, [A, B]));
        Assert.True(authority.EndCommit(drop, Now + 1, mayCommit: true).IsCommitted);

        Assert.Equal(CommitStepKind.GiveUp, commit.Step(Now + PollMs, withdrawn: false, writingInSlice: true).Kind);
        Assert.False(authority.IsHandingOver(0));
    }

    [Fact]
    public void A_goodbye_hands_over_without_a_fence_or_a_wait_for_writes_but_still_sends_the_renewals()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        var commit = new SliceCommit(authority, A, slice, HandedToB(slice), PollMs);

        Assert.Equal(CommitStepKind.SendPendingRenewals, commit.Step(Now, withdrawn: true, writingInSlice: true).Kind);
        Assert.False(authority.IsHandingOver(0));
        Assert.False(commit.WaitedForWrites);
        Assert.Equal(CommitStepKind.Decide, commit.Step(Now, withdrawn: true, writingInSlice: true).Kind);
    }

    [Fact]
    public void A_takeover_inherits_the_answers_and_blocks_writes_until_a_majority_holds_its_record()
    {
        // D's view: B leads the slice; D is in sync and takes it over.
        var authority = new SliceAuthority(D, SliceMap.FromSlices([new PieSlice(SliceRange.Whole, 5, [B, D, C], [B, D, C])]), LeaseMs, Now - LeaseMs);
        PieSlice slice = Slice(authority);
        var commit = new SliceCommit(authority, D, slice, slice.Next([D, C, B], [D, C]), PollMs);
        Assert.False(commit.HandsOver);

        CommitStep step = commit.Step(Now, withdrawn: false, writingInSlice: false);
        while (step.Kind == CommitStepKind.Wait)
        {
            step = commit.Step(step.AtMs, withdrawn: false, writingInSlice: false);
        }

        Assert.Equal(CommitStepKind.Decide, step.Kind);
        CommitResult result = commit.End(Now, mayCommit: true);
        Assert.True(result.IsCommitted, result.Outcome.Refusal);
        Assert.True(result.InheritsAnswers);
        Assert.True(result.AsksConfirmation);
    }

    [Fact]
    public void A_commit_the_host_may_not_make_is_refused_and_ends_its_drops()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        var commit = new SliceCommit(authority, A, slice, slice.Next(slice.Replicas, [A, C]), PollMs);
        Assert.Empty(authority.Grant(B, [(slice.Range.Start, slice.Epoch)], Now, mayGrant: true));
        Assert.Equal(CommitStepKind.Decide, commit.Step(Now, withdrawn: false, writingInSlice: false).Kind);

        CommitResult result = commit.End(Now, mayCommit: false);
        Assert.False(result.IsCommitted);
        Assert.Equal("this node may not commit now", result.Outcome.Refusal);
        Assert.Single(authority.Grant(B, [(slice.Range.Start, slice.Epoch)], Now + 1, mayGrant: true));
    }

    [Fact]
    public void A_goodbye_that_begins_while_a_hand_over_waits_for_writes_does_not_cut_the_wait_short()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        var commit = new SliceCommit(authority, A, slice, HandedToB(slice), PollMs);
        Assert.Equal(CommitStepKind.Wait, commit.Step(Now, withdrawn: false, writingInSlice: true).Kind);
        Assert.Equal(CommitStepKind.Wait, commit.Step(Now, withdrawn: false, writingInSlice: true).Kind);

        // The node began saying goodbye: the write in flight must still reach the next primary first.
        Assert.Equal(CommitStepKind.Wait, commit.Step(Now + PollMs, withdrawn: true, writingInSlice: true).Kind);
        Assert.True(authority.IsHandingOver(0));
        Assert.Equal(CommitStepKind.SendPendingRenewals, commit.Step(Now + (2 * PollMs), withdrawn: true, writingInSlice: false).Kind);
        Assert.Equal(CommitStepKind.Decide, commit.Step(Now + (2 * PollMs), withdrawn: true, writingInSlice: false).Kind);
    }

    [Fact]
    public void An_abandoned_commit_takes_its_fence_down_and_ends_its_drops()
    {
        SliceAuthority authority = LedByA();
        PieSlice slice = Slice(authority);
        // Hands the slice to B and drops C.
        var commit = new SliceCommit(authority, A, slice, slice.Next([B, A, C], [B, A]), PollMs);
        Assert.Equal(CommitStepKind.Wait, commit.Step(Now, withdrawn: false, writingInSlice: false).Kind);
        Assert.True(authority.IsHandingOver(0));
        Assert.Empty(authority.Grant(C, [(slice.Range.Start, slice.Epoch)], Now, mayGrant: true));

        commit.Abandon();
        Assert.False(authority.IsHandingOver(0));
        Assert.Single(authority.Grant(C, [(slice.Range.Start, slice.Epoch)], Now, mayGrant: true));
        Assert.Equal(CommitStepKind.GiveUp, commit.Step(Now + 1, withdrawn: false, writingInSlice: false).Kind);
        Assert.False(commit.End(Now + 1, mayCommit: true).IsCommitted);
        Assert.Equal(A, Slice(authority).Primary);
    }

    [Fact]
    public void A_primary_back_from_a_restart_asks_for_the_confirmation_of_a_record_that_takes_nobody_out()
    {
        // A new authority (a restart): what reached a majority before it is unknown, writes are blocked.
        var authority = new SliceAuthority(A, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, Now - LeaseMs);
        PieSlice slice = Slice(authority);
        Assert.True(authority.IsWriteBlocked(0));
        var commit = new SliceCommit(authority, A, slice, slice.Next([A, B, C, D], slice.InSync), PollMs);
        Assert.Equal(CommitStepKind.Decide, commit.Step(Now, withdrawn: false, writingInSlice: false).Kind);

        CommitResult result = commit.End(Now, mayCommit: true);
        Assert.True(result.IsCommitted, result.Outcome.Refusal);
        Assert.True(result.AsksConfirmation);
        Assert.False(result.InheritsAnswers);
    }
}
