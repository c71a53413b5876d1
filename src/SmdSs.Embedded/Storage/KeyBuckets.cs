using System.IO.Hashing;
using System.Text;

namespace SmdSs.Storage;

/// <summary>
/// Anti-entropy buckets: a slice's keys fall into <see cref="Count"/> buckets by the low bits of
/// their hash, and a bucket's digest is the sum of one 64-bit hash per (key, version). The sum
/// does not depend on order, so two replicas holding the same versions of the same keys have
/// equal digests however their files are laid out. Pure.
/// </summary>
internal static class KeyBuckets
{
    public const int Count = 256;

    public static int Of(uint keyHash) => (int)(keyHash & (Count - 1));

    public static ulong EntryDigest(string key, long version)
    {
        int length = Encoding.UTF8.GetByteCount(key);
        Span<byte> bytes = length <= 512 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(key, bytes);
        return XxHash64.HashToUInt64(bytes, version);
    }

    /// <summary>The buckets whose digests differ (arrays of <see cref="Count"/>).</summary>
    public static List<int> Differing(IReadOnlyList<ulong> mine, IReadOnlyList<ulong> theirs) =>
        [.. Enumerable.Range(0, Count).Where(b => mine[b] != theirs[b])];
}
