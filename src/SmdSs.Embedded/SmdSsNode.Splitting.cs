using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// Automatic splitting. A primary whose slice passed SplitThresholdBytes or SplitThresholdKeys
/// cuts it at the middle of its hash range: both halves keep the replicas and the in-sync set,
/// with the next epoch. It splits its own store at once, in the same step as its map; replicas
/// split their stores when the new records reach them (gossip carves the halves out of the
/// old slice). The placement loop then spreads the halves over the nodes like any slices.
/// Only a quiet slice is split (<see cref="Placement.SplitRule"/>).
/// </summary>
public sealed partial class SmdSsNode
{
    private void SplitLargeSlices()
    {
        FlatFileStore store = RunningStore();
        foreach (PieSlice slice in Placement.SplitRule.Candidates(SliceMap!, SelfRecord!.Id))
        {
            SliceStore data = store.SliceFor(slice.Range.Start);
            bool large = Placement.SplitRule.IsLarge(data.LiveBytes, data.Count, _options.SplitThresholdBytes, _options.SplitThresholdKeys);
            if (large && data.Range == slice.Range && !IsCatchingUpAnyone(slice.Range.Start))
            {
                Split(slice, data.LiveBytes, data.Count);
            }
        }
    }

    private bool IsCatchingUpAnyone(uint sliceStart) =>
        _catchUps.Any(c => c.Key.Start == sliceStart && !c.Value.IsCompleted);

    private void Split(PieSlice slice, long bytes, long keys)
    {
        uint middle = slice.Range.Midpoint;
        SliceMap split;
        lock (_stateLock)
        {
            if (!_slices!.TrySplit(slice, MonoMs(), HasCommitQuorum()))
            {
                return;
            }

            split = _slices.Map;
            PersistState();
            ReshapeStore(split);
        }

        Log.SliceSplit(_logger, slice.Range.ToString(), bytes, keys, middle);
        _metrics?.Split();
        _repairs.Split();
        foreach (PieSlice half in new[] { split.Find(slice.Range.Start), split.Find(middle) })
        {
            LogSlice(half, "split");
            _metrics?.SliceChanged("split");
            PushSlice(half);
        }
    }

    /// <summary>Splits this node's stores where the map (just changed, under the state lock) cut slices.</summary>
    private void ReshapeStore(SliceMap map)
    {
        if (_store is { } store && store.SliceStores.Count != map.Count)
        {
            store.Reshape([.. map.Slices.Select(s => s.Range)], NowMs());
        }
    }
}
