using SmdSs.Model;

namespace SmdSs.Replication;

/// <summary>
/// Anti-entropy's decision for the keys of the buckets whose digests differ: last writer wins by
/// version, a tombstone being a write like any other. The primary pushes the keys where it is
/// newer and pulls those where the replica is (a write that reached only the replica; the
/// primary then writes it to every replica). Equal versions need nothing. Pure.
/// </summary>
internal static class BucketRepair
{
    /// <param name="mine">The primary's versions (Put = live entry, Delete = tombstone), values not needed.</param>
    /// <param name="theirs">The replica's versions, the same way.</param>
    public static (List<string> Push, List<string> Pull) Plan(IReadOnlyList<StorageRecord> mine, IReadOnlyList<StorageRecord> theirs)
    {
        Dictionary<string, StorageRecord> my = Latest(mine);
        Dictionary<string, StorageRecord> their = Latest(theirs);
        var push = new List<string>();
        var pull = new List<string>();
        foreach ((string key, StorageRecord record) in my)
        {
            their.TryGetValue(key, out StorageRecord? other);
            if (IsNewer(record, other))
            {
                push.Add(key);
            }
        }

        foreach ((string key, StorageRecord record) in their)
        {
            my.TryGetValue(key, out StorageRecord? other);
            if (IsNewer(record, other))
            {
                pull.Add(key);
            }
        }

        return (push, pull);
    }

    // A newer live entry always counts; a newer delete only where the other side still holds
    // the key (a tombstone against nothing changes nothing).
    private static bool IsNewer(StorageRecord record, StorageRecord? other) => record.Kind == RecordKind.Put
        ? other is null || other.Version < record.Version
        : other is { Kind: RecordKind.Put } && other.Version < record.Version;

    private static Dictionary<string, StorageRecord> Latest(IReadOnlyList<StorageRecord> records)
    {
        var latest = new Dictionary<string, StorageRecord>(StringComparer.Ordinal);
        foreach (StorageRecord record in records)
        {
            if (!latest.TryGetValue(record.Key, out StorageRecord? seen) || seen.Version < record.Version)
            {
                latest[record.Key] = record;
            }
        }

        return latest;
    }
}
