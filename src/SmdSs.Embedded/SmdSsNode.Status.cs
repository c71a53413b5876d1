using System.Globalization;
using SmdSs.Model;

namespace SmdSs;

public sealed partial class SmdSsNode
{
    /// <summary>This node's node map, slice map and their digests.</summary>
    /// <exception cref="InvalidOperationException">The node is not running.</exception>
    public SmdSsStatus GetStatus()
    {
        var store = RunningStore();
        SliceMap slices = SliceMap!;
        return new SmdSsStatus(
            SelfRecord!.Id.ToString(),
            SelfRecord.Endpoint,
            Nodes.Digest.ToString("x32", CultureInfo.InvariantCulture),
            slices.Digest.ToString("x32", CultureInfo.InvariantCulture),
            [.. Nodes.Nodes.Select(n => new SmdSsNodeStatus(n.Id.ToString(), n.Endpoint, n.State.ToString(), n.Incarnation))],
            [.. slices.Slices.Select(s => new SmdSsSliceStatus(
                s.Range.Start, s.Range.End, s.Epoch,
                [.. s.Replicas.Select(r => r.ToString())],
                [.. s.InSync.Select(r => r.ToString())],
                store.SliceFor(s.Range.Start).Count))],
            _repairs.Snapshot());
    }
}
