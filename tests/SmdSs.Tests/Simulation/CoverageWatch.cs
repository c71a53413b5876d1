using SmdSs.Model;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Simulation;

/// <summary>Samples every running node's slice map every 100 ms and keeps the first coverage error seen.</summary>
internal sealed class CoverageWatch : IAsyncDisposable
{
    private readonly InProcessCluster _cluster;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private string? _firstError;
    private long _samples;

    public CoverageWatch(InProcessCluster cluster)
    {
        _cluster = cluster;
        _loop = Task.Run(LoopAsync);
    }

    public long Samples => Interlocked.Read(ref _samples);

    /// <summary>Throws if some node's map had a gap or an overlap at some sample.</summary>
    public void ThrowIfBroken()
    {
        if (Volatile.Read(ref _firstError) is { } error)
        {
            throw new InvalidOperationException("Coverage broken: " + error);
        }
    }

    /// <summary>Null when every running node's slice map covers the hash space now.</summary>
    public static string? CheckNow(InProcessCluster cluster)
    {
        foreach (int node in cluster.Running.ToList())
        {
            try
            {
                if (cluster.Node(node).SliceMap is { } map && SliceMap.FindCoverageError(map.Slices) is { } error)
                {
                    return $"node {node}: {error}";
                }
            }
            catch (Exception ex) when (ex is NullReferenceException or ObjectDisposedException)
            {
                // Crashed by the schedule between the listing and the look.
            }
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            if (CheckNow(_cluster) is { } error)
            {
                Interlocked.CompareExchange(ref _firstError, $"{DateTime.UtcNow:HH:mm:ss.fff} {error}", null);
            }

            Interlocked.Increment(ref _samples);
            await Task.Delay(100, _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
