using SmdSs.Diagnostics;
using SmdSs.Model;
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
                ConfirmRecords();
                await PlaceOnceAsync(stopping).ConfigureAwait(false);
                SplitLargeSlices();
                if (!Withdrawn)
                {
                    // Never from a copy that may lack writes (a slice it took over while stepping down).
                    StartCatchUps(stopping);
                }

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
        NodeId self = SelfRecord!.Id;
        long heardSince = MonoMs() - (long)_options.FailureDetectionTimeout.TotalMilliseconds;
        HurryTakeovers(heardSince, stopping);
        await CommitAllAsync(PlacementRound.Repairs(SliceMap!, self, IsServing, IsReachable, n => MayTakeOverFrom(n, heardSince), _slices!.ToRestamp()), stopping).ConfigureAwait(false);

        // Slices move independently: a step that waits out a lease does not hold up the others.
        await CommitAllAsync(PlacementRound.Steps(SliceMap!, Nodes, self, NowMs(), _options.ReplacementGracePeriod, _options.ReplicationFactor), stopping).ConfigureAwait(false);
    }

    private Task<bool[]> CommitAllAsync(List<SliceChange> changes, CancellationToken stopping) =>
        Task.WhenAll(changes.Select(c => CommitSliceAsync(c.BasedOn, c.Next, c.Reason, stopping, TakeoverStillValid(c))));

    // A takeover decided as the round began may go in seconds later (after a lease): checked again then.
    private Func<bool>? TakeoverStillValid(SliceChange change) =>
        change.BasedOn.Primary is { } primary && primary != SelfRecord!.Id && change.Next.Primary == SelfRecord.Id
            ? () => MayTakeOverFrom(primary, MonoMs() - (long)_options.FailureDetectionTimeout.TotalMilliseconds)
            : null;
}
