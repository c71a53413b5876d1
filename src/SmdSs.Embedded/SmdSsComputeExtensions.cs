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
    /// <remarks>Each slice's keys travel in one message: a scan is for prefixes that select at most MaxValueBytes of keys per slice.</remarks>
    public static ValueTask<IReadOnlyList<string>> ScanKeysAsync(this ISmdSsKeyValueStore store, string prefix, CancellationToken cancellationToken = default) =>
        store.MapReduceAsync(BuiltInMapFunctions.Keys, Prefix(prefix), partials =>
        {
            var keys = new List<string>();
            foreach (byte[] partial in partials)
            {
                var reader = new MessageReader(partial);
                int count = reader.Count(4);
                for (int i = 0; i < count; i++)
                {
                    keys.Add(reader.String());
                }
            }

            keys.Sort(StringComparer.Ordinal);
            return (IReadOnlyList<string>)keys;
        }, cancellationToken);

    /// <summary>The live entries whose keys start with <paramref name="prefix"/>, in ordinal key order.</summary>
    /// <remarks>Each slice's entries travel in one message: a scan is for prefixes that select at most MaxValueBytes of entries per slice.</remarks>
    public static ValueTask<IReadOnlyList<KeyValuePair<string, byte[]>>> ScanAsync(this ISmdSsKeyValueStore store, string prefix, CancellationToken cancellationToken = default) =>
        store.MapReduceAsync(BuiltInMapFunctions.Scan, Prefix(prefix), partials =>
        {
            var entries = new List<KeyValuePair<string, byte[]>>();
            foreach (byte[] partial in partials)
            {
                var reader = new MessageReader(partial);
                int count = reader.Count(8);
                for (int i = 0; i < count; i++)
                {
                    entries.Add(new KeyValuePair<string, byte[]>(reader.String(), reader.Bytes()));
                }
            }

            entries.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            return (IReadOnlyList<KeyValuePair<string, byte[]>>)entries;
        }, cancellationToken);

    private static byte[] Prefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        return Encoding.UTF8.GetBytes(prefix);
    }
}
