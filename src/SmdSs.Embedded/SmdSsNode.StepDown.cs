using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Placement;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// Stepping down after the machine went down under the node (power loss, kernel crash: see
/// <see cref="NodeDataDirectory.FilesMayLackWrites"/>). Under FsyncPolicy EverySecond or Never its
/// files may lack the last writes it acknowledged, which the slices' other replicas hold. Before
/// it serves, every slice it held in sync is given up: the ones it leads are handed to an in-sync
/// replica still serving, and it gives its leases back to the primaries of the others (each drops
/// it from the in-sync set); the primary then catches it up (a delta from the hint the record
/// carries, then a repair pass over every key, or a whole copy). A slice no one else holds in sync
/// it keeps as it is. Until then it answers nothing from its copies, as a primary or locally, and
/// grants no lease; its placement round still runs, so that it takes over a slice whose primary is
/// gone (and then hands it on). A split meanwhile is followed: both halves are given up. The run
/// file says the node is suspect until it is done, across crashes and stops.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan StepDownRetry = TimeSpan.FromMilliseconds(500);

    // The ranges of the slices whose copies it held in sync when it started after the machine went
    // down, until its records have it out of their in-sync sets (or it keeps one no one else holds).
    private volatile SliceRange[] _suspect = [];

    /// <summary>The machine boot this process runs in; tests give another to play a power loss.</summary>
    internal Func<string> BootId { get; set; } = MachineBoot.CurrentId;

    // Serves nothing as a primary or from its own copy: saying goodbye, or stepping down.
    private bool Withdrawn => _goingDown || _suspect.Length > 0;

    private void NoteMachineWentDown(NodeDataDirectory directory, SliceMap map)
    {
        _suspect = directory.FilesMayLackWrites ? [.. map.Slices.Where(s => s.IsInSync(directory.NodeId)).Select(s => s.Range)] : [];
        if (_suspect.Length > 0)
        {
            Log.MachineWentDown(_logger, _suspect.Length);
        }
        else if (directory.FilesMayLackWrites)
        {
            directory.MarkRunning();
        }
    }

    private async Task StepDownAsync(NodeDataDirectory directory, CancellationToken stopping)
    {
        await _confirmed.Task.WaitAsync(stopping).ConfigureAwait(false);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (await StepDownOnceAsync(stopping).ConfigureAwait(false))
                {
                    directory.MarkRunning();
                    Log.SteppedDown(_logger);
                    return;
                }
            }
            catch (Exception ex) when (ex is IOException or SmdSsUnavailableException or InvalidOperationException or Protocol.ProtocolException or Transport.PeerUnavailableException)
            {
                Log.ClusterTaskFailed(_logger, ex);
            }

            await Task.Delay(StepDownRetry, _time, stopping).ConfigureAwait(false);
        }
    }

    // One round (see StepDownRound): true once no slice is left to give up.
    private async Task<bool> StepDownOnceAsync(CancellationToken stopping)
    {
        StepDownRound round = StepDownRound.Plan(SliceMap!, _suspect, SelfRecord!.Id, IsServing);
        foreach (PieSlice kept in round.Kept)
        {
            Log.KeptAfterMachineWentDown(_logger, kept.Range.ToString());
        }

        _suspect = [.. round.Left];
        if (round.Left.Count == 0)
        {
            return true;
        }

        await Task.WhenAll(round.Handovers.Select(h => CommitSliceAsync(h.BasedOn, h.Next, h.Reason, stopping))).ConfigureAwait(false);
        await Task.WhenAll(round.Goodbyes.Select(g => SendGoodbyeAsync(g.Key, g.Value))).ConfigureAwait(false);
        return false;
    }
}
