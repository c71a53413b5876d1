using SmdSs.Model;

namespace SmdSs.Placement;

/// <summary>
/// One round of a node's step-down after its machine went down under it (its files may lack the
/// last writes it acknowledged): of the slices overlapping the ranges it held in sync then (a
/// split meanwhile is followed: both halves), the ones it leads are handed to an in-sync replica
/// still serving, and it gives its leases back to the primaries of the others, each of which then
/// drops it from the in-sync set. A slice it is out of the in-sync set of is done (the catch-up
/// that brings it back gives it what it lacks); one no one else holds in sync it keeps as it is.
/// Pure: the host commits the hand-overs, sends the goodbyes and runs the next round.
/// </summary>
/// <param name="Left">The ranges still to give up; empty once done.</param>
/// <param name="Handovers">Records to commit that hand the primary role on.</param>
/// <param name="Goodbyes">Per primary, the slices whose leases to give back to it.</param>
/// <param name="Kept">Slices it leads that no other replica holds in sync: kept as they are.</param>
internal sealed record StepDownRound(List<SliceRange> Left, List<SliceChange> Handovers, Dictionary<NodeId, List<PieSlice>> Goodbyes, List<PieSlice> Kept)
{
    public const string Reason = "files may lack writes";

    public static StepDownRound Plan(SliceMap map, IReadOnlyCollection<SliceRange> suspect, NodeId self, Func<NodeId, bool> isServing)
    {
        var round = new StepDownRound([], [], [], []);
        foreach (PieSlice slice in map.Slices.Where(s => suspect.Any(r => r.Start <= s.Range.End && s.Range.Start <= r.End)))
        {
            if (!slice.IsInSync(self))
            {
                continue;
            }

            if (slice.Primary == self)
            {
                if (SliceMoves.HandOver(slice, self, isServing) is not { } next)
                {
                    round.Kept.Add(slice);
                    continue;
                }

                round.Handovers.Add(new SliceChange(slice, next, Reason));
            }
            else if (slice.Primary is { } primary)
            {
                (round.Goodbyes.TryGetValue(primary, out List<PieSlice>? held) ? held : round.Goodbyes[primary] = []).Add(slice);
            }

            round.Left.Add(slice.Range);
        }

        return round;
    }
}
