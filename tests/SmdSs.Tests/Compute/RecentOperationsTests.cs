using SmdSs.Compute;
using SmdSs.Model;

namespace SmdSs.Tests.Compute;

/// <summary>The answers of recent operations: kept for the retention, bounded in number, first answer wins unless a replacing value's answer is set.</summary>
public sealed class RecentOperationsTests
{
    [Fact]
    public void An_answer_is_found_by_its_operation_id()
    {
        var recent = new RecentOperations(1_000);
        recent.Add(new OperationAnswer(7, 0, [1, 2]), nowMs: 0);

        Assert.True(recent.TryGet(7, out byte[] answer));
        Assert.Equal([1, 2], answer);
        Assert.False(recent.TryGet(8, out _));
    }

    [Fact]
    public void The_first_answer_of_an_operation_is_kept()
    {
        // A replica may be sent the same operation's answer twice (a retry confirming the key).
        var recent = new RecentOperations(1_000);
        recent.Add(new OperationAnswer(7, 0, [1]), nowMs: 0);
        recent.Add(new OperationAnswer(7, 0, [2]), nowMs: 10);

        Assert.True(recent.TryGet(7, out byte[] answer));
        Assert.Equal([1], answer);
        Assert.Equal(1, recent.Count);
    }

    [Fact]
    public void An_answer_set_with_a_value_that_replaced_this_nodes_wins_over_the_first()
    {
        // Applied in doubt here (answer 1), applied again by the next primary (answer 2), whose value replaced this one.
        var recent = new RecentOperations(1_000);
        recent.Add(new OperationAnswer(7, 0, [1]), nowMs: 0);
        recent.Set(new OperationAnswer(7, 0, [2]), nowMs: 10);
        recent.Set(new OperationAnswer(7, 0, [2]), nowMs: 20);

        Assert.True(recent.TryGet(7, out byte[] answer));
        Assert.Equal([2], answer);
        Assert.Equal(1, recent.Count);
        recent.Trim(nowMs: 1_015);
        Assert.False(recent.TryGet(7, out _));
    }

    [Fact]
    public void An_answer_is_kept_for_the_retention_and_forgotten_after_it()
    {
        var recent = new RecentOperations(1_000);
        recent.Add(new OperationAnswer(1, 0, [1]), nowMs: 100);
        recent.Add(new OperationAnswer(2, 0, [2]), nowMs: 600);

        recent.Trim(nowMs: 1_100);
        Assert.True(recent.TryGet(1, out _));

        recent.Trim(nowMs: 1_101);
        Assert.False(recent.TryGet(1, out _));
        Assert.True(recent.TryGet(2, out _));

        // Adding trims too.
        recent.Add(new OperationAnswer(3, 0, [3]), nowMs: 1_601);
        Assert.False(recent.TryGet(2, out _));
        Assert.True(recent.TryGet(3, out _));
        Assert.Equal(1, recent.Count);
    }

    [Fact]
    public void At_most_MaxEntries_answers_are_kept_the_oldest_go_first()
    {
        var recent = new RecentOperations(long.MaxValue / 4);
        const int extra = 10;
        for (ulong id = 0; id < RecentOperations.MaxEntries + extra; id++)
        {
            recent.Add(new OperationAnswer(id, 0, []), nowMs: 0);
        }

        Assert.Equal(RecentOperations.MaxEntries, recent.Count);
        for (ulong id = 0; id < extra; id++)
        {
            Assert.False(recent.TryGet(id, out _), $"operation {id} should have been dropped");
        }

        Assert.True(recent.TryGet(extra, out _));
        Assert.True(recent.TryGet(RecentOperations.MaxEntries + extra - 1, out _));
    }

    [Fact]
    public void A_catch_up_of_a_slice_gets_the_answers_of_its_keys_only()
    {
        var recent = new RecentOperations(1_000);
        recent.Add(new OperationAnswer(1, 0x1000_0000, [1]), nowMs: 0);
        recent.Add(new OperationAnswer(2, 0x2000_0000, [2]), nowMs: 0);
        recent.Add(new OperationAnswer(3, 0x1FFF_FFFF, [3]), nowMs: 0);

        Assert.Equal([1ul, 3ul], recent.InRange(new SliceRange(0x1000_0000, 0x1FFF_FFFF)).Select(a => a.Id).Order());
    }

    [Fact]
    public void The_answers_of_a_slice_come_oldest_first_and_only_its_own()
    {
        var recent = new RecentOperations(60_000);
        recent.Add(new OperationAnswer(1, 0x1000_0000, [1]), 0);
        recent.Add(new OperationAnswer(2, 0x9000_0000, [2]), 1);
        recent.Add(new OperationAnswer(3, 0x2000_0000, [3]), 2);
        recent.Remove(1);
        recent.Set(new OperationAnswer(1, 0x1000_0000, [9]), 3);

        Assert.Equal([3ul, 1ul], recent.InRangesOldestFirst([new SliceRange(0, 0x7FFF_FFFF)]).Select(a => a.Id));
    }
}
