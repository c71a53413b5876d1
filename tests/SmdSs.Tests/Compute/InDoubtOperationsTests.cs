using SmdSs.Compute;
using SmdSs.Model;

namespace SmdSs.Tests.Compute;

/// <summary>A later write of a key carries the answers of its earlier operations whose replication has not succeeded yet.</summary>
public sealed class InDoubtOperationsTests
{
    private static OperationAnswer Answer(ulong id) => new(id, 0, [(byte)id]);

    [Fact]
    public void A_write_carries_the_answers_still_in_doubt_of_its_key_and_only_of_its_key()
    {
        var inDoubt = new InDoubtOperations(1_000);
        Assert.Equal([1ul], inDoubt.Add("k", Answer(1), 0).Select(a => a.Id));
        Assert.Equal([1ul, 2ul], inDoubt.Add("k", Answer(2), 10).Select(a => a.Id));
        Assert.Equal([3ul], inDoubt.Add("other", Answer(3), 10).Select(a => a.Id));

        inDoubt.Confirm("k", [Answer(1)]);
        Assert.Equal([2ul, 4ul], inDoubt.Add("k", Answer(4), 20).Select(a => a.Id));
        Assert.Equal([2ul, 4ul], inDoubt.Of("k").Select(a => a.Id));
    }

    [Fact]
    public void A_full_catch_up_takes_the_answers_of_every_key_in_its_slice_and_no_other()
    {
        var inDoubt = new InDoubtOperations(1_000);
        inDoubt.Add("low", new OperationAnswer(1, 0x1000_0000, [1]), 0);
        inDoubt.Add("high", new OperationAnswer(2, 0x9000_0000, [2]), 0);

        List<OperationAnswer> taken = inDoubt.TakeInRange(new SliceRange(0, 0x7FFF_FFFF));

        Assert.Equal([1ul], taken.Select(a => a.Id));
        Assert.Empty(inDoubt.Of("low"));
        Assert.Equal([2ul], inDoubt.Of("high").Select(a => a.Id));
    }

    [Fact]
    public void Confirmed_and_old_answers_are_forgotten()
    {
        var inDoubt = new InDoubtOperations(1_000);
        inDoubt.Add("k", Answer(1), 0);
        inDoubt.Add("j", Answer(2), 0);
        inDoubt.Confirm("j", [Answer(2)]);
        Assert.Empty(inDoubt.Of("j"));
        Assert.Equal(1, inDoubt.Count);

        // A failed operation stays in doubt for the retention, then goes.
        Assert.Equal([1ul, 3ul], inDoubt.Add("k", Answer(3), 1_000).Select(a => a.Id));
        Assert.Equal([3ul], inDoubt.Add("k", Answer(4), 1_001).Select(a => a.Id).Where(id => id == 3));
        Assert.DoesNotContain(1ul, inDoubt.Of("k").Select(a => a.Id));
    }

    [Fact]
    public void A_write_that_reached_every_replica_confirms_every_answer_it_carried_and_no_later_one()
    {
        var inDoubt = new InDoubtOperations(1_000);
        inDoubt.Add("k", Answer(1), 0);
        OperationAnswer[] carried = inDoubt.Add("k", Answer(2), 0);
        inDoubt.Add("k", Answer(3), 0);

        inDoubt.Confirm("k", carried);
        Assert.Equal([3ul], inDoubt.Of("k").Select(a => a.Id));
    }

    [Fact]
    public void A_new_primary_carries_what_it_learned_as_a_replica_with_the_keys_next_write_until_it_reaches_every_replica()
    {
        // The seed 432 of the placement simulation: the old primary held increment 1 in doubt,
        // the new one (which had it replicated) wrote the key without its answer, and the old
        // one, replaced by that value, forgot the answer and applied the retry again.
        var inDoubt = new InDoubtOperations(1_000);
        uint k = SmdSs.Hashing.KeyHash.Of("k");
        inDoubt.Inherit([new OperationAnswer(1, k, [1]), new OperationAnswer(2, SmdSs.Hashing.KeyHash.Of("j"), [2])], 0);

        OperationAnswer[] carried = inDoubt.Add("k", Answer(3), 10);
        Assert.Equal([3ul, 1ul], carried.Select(a => a.Id));
        Assert.Equal([2ul], inDoubt.Of("j").Select(a => a.Id));

        inDoubt.Confirm("k", carried);
        Assert.Empty(inDoubt.Of("k"));
        Assert.Equal([2ul], inDoubt.Of("j").Select(a => a.Id));
    }

    [Fact]
    public void Inherited_answers_go_with_the_key_taken_or_its_slice_and_after_the_retention()
    {
        var inDoubt = new InDoubtOperations(1_000);
        inDoubt.Inherit([new OperationAnswer(1, SmdSs.Hashing.KeyHash.Of("k"), [1])], 0);
        Assert.Equal([1ul], inDoubt.Take("k").Select(a => a.Id));
        Assert.Empty(inDoubt.Of("k"));

        var low = new OperationAnswer(2, 0x1000_0000, [2]);
        var high = new OperationAnswer(3, 0x9000_0000, [3]);
        inDoubt.Inherit([low, high], 0);
        Assert.Equal([2ul], inDoubt.TakeInRange(new SliceRange(0, 0x7FFF_FFFF)).Select(a => a.Id));
        Assert.Equal(1, inDoubt.Count);

        inDoubt.Inherit([], 1_001);
        Assert.Equal(0, inDoubt.Count);
    }

    [Fact]
    public void At_most_the_newest_MaxInheritedPerKey_answers_are_inherited_per_key()
    {
        var inDoubt = new InDoubtOperations(1_000);
        uint k = SmdSs.Hashing.KeyHash.Of("k");
        inDoubt.Inherit(Enumerable.Range(1, InDoubtOperations.MaxInheritedPerKey + 5).Select(i => new OperationAnswer((ulong)i, k, [1])), 0);

        OperationAnswer[] held = inDoubt.Of("k");
        Assert.Equal(InDoubtOperations.MaxInheritedPerKey, held.Length);
        Assert.Equal(6ul, held.Min(a => a.Id));
    }
}
