using System.Globalization;
using Microsoft.Extensions.Caching.Distributed;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// Before measuring: every Get of a key held locally must be answered from the node's own copy
/// (which needs the read leases a replica renews every half second) and every Get of a key held
/// elsewhere must be forwarded. Also checks that every prefilled key is found.
/// </summary>
internal static class ReadPlacementCheck
{
    private const int RemoteSample = 1_000;
    private static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan LeaseWait = TimeSpan.FromSeconds(3);

    /// <summary>A one-line account of what was checked.</summary>
    /// <exception cref="InvalidOperationException">A key is missing, or a read was answered in the wrong place.</exception>
    public static async Task<string> VerifyAsync(IDistributedCache cache, ReadSourceCounter reads, KeySet local, KeySet remote, CancellationToken cancellationToken)
    {
        if (!reads.Available)
        {
            // Leases last 2 s and are renewed every 0.5 s; give them time to be granted.
            await Task.Delay(LeaseWait, cancellationToken).ConfigureAwait(false);
            ThrowIfMissing(cache, local.Keys, "held locally");
            ThrowIfMissing(cache, remote.Keys.Take(RemoteSample), "held elsewhere");
            return "Not checked where reads were answered: the node publishes no smdss.reads counter (waited 3 s for read leases instead).";
        }

        ReadSources localReads = default;
        await Poll.UntilAsync(() =>
        {
            ReadSources before = reads.Snapshot();
            ThrowIfMissing(cache, local.Keys, "held locally");
            localReads = reads.Snapshot() - before;
            return Task.FromResult(localReads.Forwarded == 0);
        }, LeaseTimeout, "every Get of a key held locally answered locally (read leases held)", cancellationToken).ConfigureAwait(false);

        ReadSources start = reads.Snapshot();
        ThrowIfMissing(cache, remote.Keys.Take(RemoteSample), "held elsewhere");
        ReadSources remoteReads = reads.Snapshot() - start;
        if (remoteReads.Local != 0)
        {
            throw new InvalidOperationException($"{remoteReads.Local} Gets of keys held elsewhere were answered locally: the key placement is wrong.");
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"Checked before measuring (node's smdss.reads counter): {localReads.Local:N0} of {local.Count:N0} Gets of keys held locally answered locally, {remoteReads.Forwarded:N0} of {Math.Min(RemoteSample, remote.Count):N0} Gets of keys held elsewhere forwarded; no key missing.");
    }

    private static void ThrowIfMissing(IDistributedCache cache, IEnumerable<string> keys, string where)
    {
        foreach (string key in keys)
        {
            if (cache.Get(key) is null)
            {
                throw new InvalidOperationException($"The prefilled key '{key}' ({where}) is missing.");
            }
        }
    }
}
