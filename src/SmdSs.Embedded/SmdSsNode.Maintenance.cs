using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Storage;

namespace SmdSs;

public sealed partial class SmdSsNode
{
    private static readonly TimeSpan MaintenanceInterval = TimeSpan.FromSeconds(1);
    private long _lastSweepMs;

    /// <summary>The background loop: once a second flush and send touches, fsync (EverySecond), expire and compact.</summary>
    private async Task MaintainAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(MaintenanceInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                RunMaintenance();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Host stop.
        }
    }

    /// <summary>One maintenance round; tests call it directly to avoid waiting for the timer.</summary>
    internal void RunMaintenance()
    {
        if (_store is not { } store)
        {
            return;
        }

        try
        {
            long now = NowMs();
            bool sweep = now - _lastSweepMs >= (long)_options.ExpirationScanInterval.TotalMilliseconds;
            if (store.SliceStores.Count != SliceMap!.Count)
            {
                // A split whose store copy failed (a disk error) is retried here.
                lock (_stateLock)
                {
                    ReshapeStore(SliceMap);
                }
            }

            // Touches first, before any disk work: their trip to the primary is on the clock
            // (SlidingRenewal.PropagationBoundMs).
            foreach ((SliceStore slice, List<StorageRecord> records) in store.FlushTouches())
            {
                SendTouches(slice, records);
            }

            if (ExpireRound(store, now, sweep) && sweep)
            {
                _lastSweepMs = now;
            }

            store.Maintain(now, sync: _options.FsyncPolicy == FsyncPolicy.EverySecond);
            // Also on a node that runs no atomic operation now: answers past their retention leave the budget.
            _recentOperations.Trim(MonoMs());
            EvictAndWarn(store);
            _lastMaintenanceError = null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            _lastMaintenanceError = ex;
            Log.MaintenanceFailed(_logger, ex);
        }
    }

    private Exception? _lastMaintenanceError;

    /// <summary>The last background failure, cleared by the next round that succeeds.</summary>
    internal Exception? LastMaintenanceError => _lastMaintenanceError;

    private void EvictAndWarn(FlatFileStore store)
    {
        store.EvictIfOverLimit();
        if (store.Memory.IsOver)
        {
            Log.KeysOverMemoryLimit(_logger, store.Memory.UsedBytes, store.Memory.LimitBytes);
        }
    }
}
