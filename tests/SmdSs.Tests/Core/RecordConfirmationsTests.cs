using SmdSs.Core;
using SmdSs.Model;

namespace SmdSs.Tests.Core;

/// <summary>The rounds in which a primary finds a majority holding its record (<see cref="RecordConfirmations"/>).</summary>
public sealed class RecordConfirmationsTests
{
    private const long LeaseMs = 2_000;
    private const long Now = 100_000;
    private static readonly NodeId A = new(1);
    private static readonly NodeId B = new(2);
    private static readonly NodeId C = new(3);
    private static readonly NodeId D = new(4);
    private static readonly NodeId E = new(5);

    // One slice led by A on A, B, C, all in sync, then a record of A that took B out.
    private static (SliceAuthority Authority, PieSlice Record) TookBOut()
    {
        var authority = new SliceAuthority(A, SliceMap.CreateInitial(1, [A, B, C]), LeaseMs, Now - LeaseMs);
        PieSlice slice = authority.Map.Find(0);
        // A new authority knows nothing that reached a majority (a restart): the slice's record is confirmed first.
        authority.Confirmed(0, slice.Epoch);
        Assert.Empty(authority.WriteRequires(0));
        PendingCommit commit = authority.BeginCommit(slice, slice.Next(slice.Replicas, [A, C]));
        Assert.True(authority.EndCommit(commit, Now, mayCommit: true).IsCommitted);
        Assert.Equal([B], authority.WriteRequires(0).ToArray());
        return (authority, authority.Map.Find(0));
    }

    [Fact]
    public void A_record_is_confirmed_once_the_answers_that_hold_it_make_a_majority_of_voters()
    {
        (SliceAuthority authority, PieSlice record) = TookBOut();
        var rounds = new RecordConfirmations(A);
        NodeId[] voters = [A, B, C, D, E];

        Assert.Equal([record], rounds.Begin(authority, voters));
        Assert.True(rounds.IsAsking(0));
        // An older record, or none, does not count.
        Assert.False(rounds.Answered(authority, record, B, authority.Map.Find(0) with { Epoch = record.Epoch - 1 }, voters));
        Assert.False(rounds.Answered(authority, record, C, null, voters));
        Assert.False(rounds.Answered(authority, record, D, record, voters));
        // A node that is no voter does not count.
        Assert.False(rounds.Answered(authority, record, new NodeId(9), record, voters));
        Assert.Equal([B], authority.WriteRequires(0).ToArray());

        Assert.True(rounds.Answered(authority, record, E, record, voters));
        Assert.Empty(authority.WriteRequires(0));
        Assert.False(rounds.IsAsking(0));
        Assert.Empty(rounds.Begin(authority, voters));
    }

    [Fact]
    public void With_two_voters_or_fewer_a_record_is_confirmed_at_once_and_nobody_is_asked()
    {
        (SliceAuthority authority, _) = TookBOut();
        var rounds = new RecordConfirmations(A);

        Assert.Empty(rounds.Begin(authority, [A, C]));
        Assert.Empty(authority.WriteRequires(0));
        Assert.False(rounds.IsAsking(0));
    }

    [Fact]
    public void One_round_per_record_at_a_time_and_a_round_that_ended_unconfirmed_is_asked_again()
    {
        (SliceAuthority authority, PieSlice record) = TookBOut();
        var rounds = new RecordConfirmations(A);
        NodeId[] voters = [A, B, C];

        Assert.Single(rounds.Begin(authority, voters));
        Assert.Empty(rounds.Begin(authority, voters));
        Assert.False(rounds.Answered(authority, record, C, null, voters));

        rounds.Ended(record);
        Assert.False(rounds.IsAsking(0));
        Assert.Equal([record], rounds.Begin(authority, voters));
    }

    [Fact]
    public void A_newer_record_of_the_slice_starts_its_own_round_and_the_older_ones_answers_confirm_nothing()
    {
        (SliceAuthority authority, PieSlice older) = TookBOut();
        var rounds = new RecordConfirmations(A);
        NodeId[] voters = [A, B, C];
        Assert.Single(rounds.Begin(authority, voters));

        // C taken out too: a newer record, required now to reach B and C.
        PendingCommit commit = authority.BeginCommit(older, older.Next(older.Replicas, [A]));
        Assert.True(authority.EndCommit(commit, Now + LeaseMs, mayCommit: true).IsCommitted);
        PieSlice newer = authority.Map.Find(0);
        Assert.Equal([newer], rounds.Begin(authority, voters));

        // The older round is over; its holders do not confirm the newer record, nor does its end stop the newer round.
        Assert.True(rounds.Answered(authority, older, B, older, voters));
        rounds.Ended(older);
        Assert.True(rounds.IsAsking(0));
        Assert.NotEmpty(authority.WriteRequires(0));

        Assert.True(rounds.Answered(authority, newer, C, newer, voters));
        Assert.Empty(authority.WriteRequires(0));
    }
}
