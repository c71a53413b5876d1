using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Compute;
using SmdSs.Protocol;

namespace SmdSs;

/// <summary>
/// Calculation helpers over <see cref="ISmdSsKeyValueStore"/>: decrement, map-reduce, key counts
/// and prefix scans (built on <see cref="ISmdSsKeyValueStore.MapAsync"/>; every node has them).
/// </summary>
public static class SmdSsComputeExtensions
{
    /// <summary>Subtracts <paramref name="delta"/> from the counter at <paramref name="key"/>; see <see cref="ISmdSsKeyValueStore.IncrementAsync"/>.</summary>
    public static ValueTask<long> DecrementAsync(this ISmdSsKeyValueStore store, string key, long delta = 1, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfEqual(delta, long.MinValue);
        return store.IncrementAsync(key, -delta, options, cancellationToken);
    }

    /// <summary>Runs a registered map function over every slice and reduces the partials here.</summary>
    public static async ValueTask<TResult> MapReduceAsync<TResult>(
        this ISmdSsKeyValueStore store, string mapFunctionName, ReadOnlyMemory<byte> argument, Func<IReadOnlyList<byte[]>, TResult> reduce, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(reduce);
        IReadOnlyList<byte[]> partials = await store.MapAsync(mapFunctionName, argument, cancellationToken).ConfigureAwait(false);
        return reduce(partials);
    }

    /// <summary>How many live keys start with <paramref name="prefix"/> (all keys when empty), counted where they live.</summary>
    public static ValueTask<long> CountKeysAsync(this ISmdSsKeyValueStore store, string prefix = "", CancellationToken cancellationToken = default) =>
        store.MapReduceAsync(BuiltInMapFunctions.Count, Prefix(prefix), partials => partials.Sum(p => new MessageReader(p).I64()), cancellationToken);

    /// <summary>The live keys starting with <paramref name="prefix"/>, in ordinal order.</summary>
    /// <remarks>Fetched in pages of about 1 MiB per slice: no frame and no node's memory grows with the slice.</remarks>
    public static async ValueTask<IReadOnlyList<string>> ScanKeysAsync(this ISmdSsKeyValueStore store, string prefix, CancellationToken cancellationToken = default) =>
        [.. (await ScanPagesAsync(store, BuiltInMapFunctions.Keys, prefix, withValues: false, ScanPageBytes, cancellationToken).ConfigureAwait(false)).Select(e => e.Key)];

    /// <summary>The live entries whose keys start with <paramref name="prefix"/>, in ordinal key order.</summary>
    /// <remarks>Fetched in pages of about 1 MiB per slice (one larger entry travels alone): no frame and no node's memory grows with the slice.</remarks>
    public static async ValueTask<IReadOnlyList<KeyValuePair<string, byte[]>>> ScanAsync(this ISmdSsKeyValueStore store, string prefix, CancellationToken cancellationToken = default) =>
        await ScanPagesAsync(store, BuiltInMapFunctions.Scan, prefix, withValues: true, ScanPageBytes, cancellationToken).ConfigureAwait(false);

    /// <summary>The most bytes of keys (and values) one slice sends in one page of a scan: 1 MiB.</summary>
    internal const int ScanPageBytes = 1 << 20;

    /// <summary>
    /// A scan as a merge of every slice's sorted pages behind one cursor: each round asks every
    /// slice for its lowest keys past the cursor, keeps those up to the lowest last key of a slice
    /// that has more, and moves the cursor there (each round moves it by at least one key).
    /// </summary>
    internal static async ValueTask<IReadOnlyList<KeyValuePair<string, byte[]>>> ScanPagesAsync(
        ISmdSsKeyValueStore store, string function, string prefix, bool withValues, int pageBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prefix);
        var found = new List<KeyValuePair<string, byte[]>>();
        string? after = null;
        while (true)
        {
            IReadOnlyList<byte[]> partials = await store.MapAsync(function, BuiltInMapFunctions.PageArgument(prefix, after, pageBytes), cancellationToken).ConfigureAwait(false);
            var round = new List<KeyValuePair<string, byte[]>>();
            string? boundary = null;
            foreach (byte[] partial in partials)
            {
                var reader = new MessageReader(partial);
                bool more = reader.Bool();
                int count = reader.Count(withValues ? 6 : 2);
                string? last = null;
                for (int i = 0; i < count; i++)
                {
                    last = reader.String();
                    round.Add(new KeyValuePair<string, byte[]>(last, withValues ? reader.Bytes() : []));
                }

                if (more && last is not null && (boundary is null || string.CompareOrdinal(last, boundary) < 0))
                {
                    boundary = last;
                }
            }

            found.AddRange(boundary is null ? round : round.Where(e => string.CompareOrdinal(e.Key, boundary) <= 0));
            if (boundary is null)
            {
                break;
            }

            after = boundary;
        }

        found.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return found;
    }

    private static byte[] Prefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        return Encoding.UTF8.GetBytes(prefix);
    }
}
