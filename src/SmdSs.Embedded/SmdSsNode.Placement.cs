using SmdSs.Diagnostics;
using SmdSs.Membership;
using SmdSs.Placement;

namespace SmdSs;

/// <summary>
/// The placement loop. Twice a second, for the slices this node is primary of (or must take
/// over): fail over from a dead primary, drop dead replicas from the in-sync set, take one step
/// toward the placement target, split slices that grew too large, catch up replicas that are
/// behind, and hand off data of slices this node no longer holds. No center: every primary moves only its own slices.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan PlacementInterval = TimeSpan.FromMilliseconds(500);

    private async Task PlacementLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(PlacementInterval, _time);
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            if (!_confirmed.Task.IsCompleted || _goingDown)
            {
                continue;
            }

            try
            {
                await PlaceOnceAsync(stopping).ConfigureAwait(false);
                SplitLargeSlices();
                StartCatchUps(stopping);
                StartHandoffs(stopping);
            }
            catch (Exception ex) when (ex is IOException or SmdSsUnavailableException or InvalidOperationException)
            {
                Log.ClusterTaskFailed(_logger, ex);
            }
        }
    }

    private async Task PlaceOnceAsync(CancellationToken stopping)
    {
        NodeId self = _self!.Id;
        SliceMap map = SliceMap!;
        var repairs = new List<Task>();
        foreach (PieSlice slice in map.Slices)
        {
            if (SliceMoves.TakeOver(slice, self, IsServing) is { } takeover)
            {
                repairs.Add(CommitSliceAsync(slice, takeover, "primary down, took over", stopping));
            }
            else if (slice.Primary == self && slice.InSync.Any(n => n != self && !IsReachable(n)))
            {
                repairs.Add(DropFromInSyncAsync(slice.Range.Start, [.. slice.InSync.Where(n => !IsReachable(n))], stopping));
            }
        }

        await Task.WhenAll(repairs).ConfigureAwait(false);

        map = SliceMap!;
        var eligible = Nodes.Nodes.Where(n => n.State is NodeState.Up or NodeState.Joining).Select(n => n.Id).ToList();
        var keepable = Nodes.Nodes.Where(IsKeepable).Select(n => n.Id).ToHashSet();
        var targets = PlacementPlanner.Plan(map, eligible, keepable, _options.ReplicationFactor);
        // Slices move independently: a step that waits out a lease does not hold up the others.
        var steps = new List<Task<bool>>();
        for (int i = 0; i < map.Count; i++)
        {
            if (SliceMoves.NextStep(map.Slices[i], targets[i], self) is { } step)
            {
                steps.Add(CommitSliceAsync(map.Slices[i], step, "placement", stopping));
            }
        }

        await Task.WhenAll(steps).ConfigureAwait(false);
    }

    // A node keeps its replicas while it serves, and while it is down within the grace period
    // (in a web farm a stop is usually a restart). A leaving node keeps nothing.
    private bool IsKeepable(NodeRecord node)
    {
        if (node.State is NodeState.Up or NodeState.Joining or NodeState.Suspect)
        {
            return true;
        }

        return node.State == NodeState.Down
            && (!_downSinceMs.TryGetValue(node.Id, out long since) || MonoMs() - since < _options.ReplacementGracePeriod.TotalMilliseconds);
    }
}
