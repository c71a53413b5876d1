using SmdSs.Core;
using SmdSs.Model;

namespace SmdSs.Tests.Core;

/// <summary>Which hints a new record carries, and when a returning replica gets a delta catch-up.</summary>
public sealed class ReplicaHintsTests
{
    private static readonly NodeId A = new(1);
    private static readonly NodeId B = new(2);
    private static readonly NodeId C = new(3);
    private static readonly NodeId D = new(4);

    private static readonly PieSlice Current = SliceMap.CreateInitial(1, [A, B, C]).Slices[0];

    private static long Version(long ms) => HybridTimestamp.FirstVersionAt(ms);

    [Fact]
    public void A_replica_that_leaves_the_in_sync_set_but_stays_listed_gets_a_hint_reaching_back_past_writes_in_flight()
    {
        PieSlice next = Current.Next([A, B, C], [A, C]);

        PieSlice hinted = ReplicaHints.For(Current, next, _ => null, inFlightSince: Version(1_000));

        Assert.Equal(Version(1_000), hinted.HintFor(B));
        Assert.Null(hinted.HintFor(C));
    }

    [Fact]
    public void The_oldest_of_a_missed_write_and_the_writes_in_flight_counts()
    {
        PieSlice next = Current.Next([A, B, C], [A, C]);

        Assert.Equal(Version(500), ReplicaHints.For(Current, next, n => n == B ? Version(500) : null, Version(1_000)).HintFor(B));
        Assert.Equal(Version(1_000), ReplicaHints.For(Current, next, n => n == B ? Version(2_000) : null, Version(1_000)).HintFor(B));
    }

    [Fact]
    public void A_replica_taken_off_the_list_gets_no_hint_and_one_behind_keeps_its_own_lowered_by_what_it_missed_since()
    {
        PieSlice behind = Current.Next([A, B, C], [A, C]).WithHints([new ReplicaHint(B, Version(800))]);
        PieSlice moved = behind.Next([A, C, D], [A, C]);
        Assert.Null(ReplicaHints.For(behind, moved, _ => Version(100), Version(1_000)).HintFor(B));

        PieSlice still = behind.Next([A, B, C], [A, C]);
        Assert.Equal(Version(300), ReplicaHints.For(behind, still, n => n == B ? Version(300) : null, Version(1_000)).HintFor(B));
    }

    [Fact]
    public void A_delta_catch_up_needs_a_hint_young_enough_that_no_tombstone_it_needs_was_purged()
    {
        PieSlice hinted = Current.Next([A, B, C], [A, C]).WithHints([new ReplicaHint(B, Version(10_000))]);

        Assert.Null(ReplicaHints.DeltaBase(hinted, C, missedSince: null, oldestSafeMs: 0));
        Assert.Equal(Version(10_000), ReplicaHints.DeltaBase(hinted, B, missedSince: null, oldestSafeMs: 9_000));
        Assert.Equal(Version(9_500), ReplicaHints.DeltaBase(hinted, B, missedSince: Version(9_500), oldestSafeMs: 9_000));
        Assert.Null(ReplicaHints.DeltaBase(hinted, B, missedSince: null, oldestSafeMs: 10_000));
    }
}
