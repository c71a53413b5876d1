using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>What anti-entropy compares: per-bucket digests of the live entries, and the versions in chosen buckets.</summary>
internal sealed partial class SliceStore
{
    // Entries this close to their deadline are left out of digests: replicas sweep them at
    // slightly different moments, and a repair of something about to expire is wasted work.
    private const long ExpiryMarginMs = 5_000;

    public ulong[] BucketDigests(long nowMs)
    {
        var digests = new ulong[KeyBuckets.Count];
        foreach (StoredEntry entry in _index.Values)
        {
            if (!entry.IsExpiredAt(nowMs + ExpiryMarginMs))
            {
                digests[KeyBuckets.Of(Hashing.KeyHash.Of(entry.Key))] += KeyBuckets.EntryDigest(entry.Key, entry.Version);
            }
        }

        return digests;
    }

    /// <summary>Every key of the chosen buckets with its version: live entries as Put, tombstones as Delete (no values).</summary>
    public List<StorageRecord> VersionsIn(IReadOnlySet<int> buckets, long nowMs)
    {
        var versions = new List<StorageRecord>();
        foreach (StoredEntry entry in _index.Values)
        {
            if (!entry.IsExpiredAt(nowMs + ExpiryMarginMs) && buckets.Contains(KeyBuckets.Of(Hashing.KeyHash.Of(entry.Key))))
            {
                versions.Add(new StorageRecord(RecordKind.Put, entry.Key, entry.Version, EntryExpiry.None, []));
            }
        }

        foreach ((string key, long version) in _tombstones)
        {
            if (buckets.Contains(KeyBuckets.Of(Hashing.KeyHash.Of(key))))
            {
                versions.Add(new StorageRecord(RecordKind.Delete, key, version, EntryExpiry.None, []));
            }
        }

        return versions;
    }
}
