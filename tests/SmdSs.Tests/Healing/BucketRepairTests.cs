using SmdSs.Model;
using SmdSs.Replication;
using SmdSs.Storage;

namespace SmdSs.Tests.Healing;

/// <summary>The pure parts of self-healing: anti-entropy's push/pull decision, bucket digests, and the hint table.</summary>
public sealed class BucketRepairTests
{
    private static StorageRecord Put(string key, long version) => new(RecordKind.Put, key, version, EntryExpiry.None, []);

    private static StorageRecord Deleted(string key, long version) => new(RecordKind.Delete, key, version, EntryExpiry.None, []);

    [Fact]
    public void Newer_side_wins_by_version_and_tombstones_count_only_against_a_live_key()
    {
        StorageRecord[] primary = [Put("same", 5), Put("newer-here", 9), Put("older-here", 1), Put("only-here", 3), Deleted("deleted-here", 8), Deleted("gone-both", 4)];
        StorageRecord[] replica = [Put("same", 5), Put("newer-here", 2), Put("older-here", 7), Put("only-there", 6), Put("deleted-here", 2)];

        (List<string> push, List<string> pull) = BucketRepair.Plan(primary, replica);

        Assert.Equal(["deleted-here", "newer-here", "only-here"], push.Order(StringComparer.Ordinal));
        Assert.Equal(["older-here", "only-there"], pull.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_put_after_a_delete_of_the_same_key_is_the_live_state()
    {
        (List<string> push, List<string> pull) = BucketRepair.Plan([Deleted("k", 3), Put("k", 5)], [Put("k", 4)]);

        Assert.Equal(["k"], push);
        Assert.Empty(pull);
    }

    [Fact]
    public void Bucket_digests_do_not_depend_on_order_and_see_any_version_change()
    {
        ulong a = KeyBuckets.EntryDigest("a", 1) + KeyBuckets.EntryDigest("b", 2);
        ulong b = KeyBuckets.EntryDigest("b", 2) + KeyBuckets.EntryDigest("a", 1);
        ulong c = KeyBuckets.EntryDigest("a", 1) + KeyBuckets.EntryDigest("b", 3);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal([3], KeyBuckets.Differing([.. Enumerable.Repeat(1UL, KeyBuckets.Count)], [.. Enumerable.Range(0, KeyBuckets.Count).Select(i => i == 3 ? 2UL : 1UL)]));
    }

    [Fact]
    public void A_hint_keeps_the_oldest_missed_version_and_only_for_a_copy_that_was_complete()
    {
        var missed = new MissedWrites();
        var replica = new NodeId(9);

        Assert.False(missed.Note(0, replica, 50, wasInSync: false));
        Assert.Null(missed.Since(0, replica));

        Assert.True(missed.Note(0, replica, 50, wasInSync: true));
        Assert.True(missed.Note(0, replica, 40, wasInSync: false));
        Assert.True(missed.Note(0, replica, 60, wasInSync: true));
        Assert.Equal(40, missed.Since(0, replica));

        missed.Forget(0, replica);
        Assert.Null(missed.Since(0, replica));
    }
}
