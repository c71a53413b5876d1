using System.Collections.Immutable;
using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Placement;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// Stepping down after the machine went down under the node (power loss, kernel crash: see
/// <see cref="NodeDataDirectory.MachineWentDown"/>). Under FsyncPolicy EverySecond or Never its
/// files may lack the last writes it acknowledged, which the slices' other replicas hold. Before
/// it serves, every slice it held in sync is given up: the ones it leads are handed to an in-sync
/// replica still serving (the new primary then catches this node up with a whole copy), and it
/// gives its leases back to the primaries of the others (each drops it from the in-sync set and
/// catches it up). A slice no one else holds in sync it keeps as it is. Until then it answers
/// nothing from its copies, as a primary or locally.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan StepDownRetry = TimeSpan.FromMilliseconds(500);

    // The slices whose copies it held in sync when it started after the machine went down, until
    // its record has it out of the in-sync set (or it keeps one no one else holds).
    private ImmutableHashSet<uint> _suspect = [];

    /// <summary>The machine boot this process runs in; tests give another to play a power loss.</summary>
    internal Func<string> BootId { get; set; } = MachineBoot.CurrentId;

    // Serves nothing as a primary or from its own copy: saying goodbye, or stepping down.
    private bool Withdrawn => _goingDown || !Volatile.Read(ref _suspect).IsEmpty;

    private void NoteMachineWentDown(NodeDataDirectory directory, SliceMap map)
    {
        _suspect = directory.MachineWentDown && _options.FsyncPolicy != FsyncPolicy.Always
            ? [.. map.Slices.Where(s => s.IsInSync(directory.NodeId)).Select(s => s.Range.Start)]
            : [];
        if (!_suspect.IsEmpty)
        {
            Log.MachineWentDown(_logger, _options.FsyncPolicy.ToString(), _suspect.Count);
        }
    }

    private async Task StepDownAsync(CancellationToken stopping)
    {
        await _confirmed.Task.WaitAsync(stopping).ConfigureAwait(false);
        NodeId self = SelfRecord!.Id;
        while (!stopping.IsCancellationRequested)
        {
            var handovers = new List<(PieSlice BasedOn, PieSlice Next)>();
            var goodbyes = new Dictionary<NodeId, List<PieSlice>>();
            ImmutableHashSet<uint> suspect = Volatile.Read(ref _suspect);
            foreach (uint start in suspect)
            {
                PieSlice slice = SliceMap!.Find(start);
                if (slice.Range.Start != start || !slice.IsInSync(self))
                {
                    // Out of the in-sync set (or split meanwhile): a catch-up gives it a whole copy.
                    suspect = suspect.Remove(start);
                }
                else if (slice.Primary == self)
                {
                    if (SliceMoves.HandOver(slice, self, IsServing) is { } next)
                    {
                        handovers.Add((slice, next));
                    }
                    else
                    {
                        Log.KeptAfterMachineWentDown(_logger, slice.Range.ToString());
                        suspect = suspect.Remove(start);
                    }
                }
                else if (slice.Primary is { } primary)
                {
                    (goodbyes.TryGetValue(primary, out List<PieSlice>? held) ? held : goodbyes[primary] = []).Add(slice);
                }
            }

            Volatile.Write(ref _suspect, suspect);
            if (suspect.IsEmpty)
            {
                Log.SteppedDown(_logger);
                return;
            }

            await Task.WhenAll(handovers.Select(h => CommitSliceAsync(h.BasedOn, h.Next, "files may lack writes", stopping))).ConfigureAwait(false);
            await Task.WhenAll(goodbyes.Select(g => SendGoodbyeAsync(g.Key, g.Value))).ConfigureAwait(false);
            await Task.Delay(StepDownRetry, _time, stopping).ConfigureAwait(false);
        }
    }
}
