using System.Globalization;
using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Cluster figures for an overview (the dashboard): every node is asked for its own figures
/// (<see cref="MessageType.NodeStats"/>) in parallel, with a short timeout so that one silent
/// node costs the overview one second, not the request timeout.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(1);
    private readonly OperationCounter _operations = new();

    /// <summary>
    /// Every node in this node's map (except nodes that left for good) with its own figures:
    /// this node's taken locally, reachable peers asked in parallel (one second each at most);
    /// a node that is Down, does not answer in time or does not know the question is listed
    /// with <see cref="SmdSsNodeStats.Reachable"/> false and null figures. In node-id order.
    /// </summary>
    /// <param name="cancellationToken">Cancels the questions still waiting.</param>
    /// <exception cref="InvalidOperationException">The node is not running.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<IReadOnlyList<SmdSsNodeStats>> GetClusterStatsAsync(CancellationToken cancellationToken = default)
    {
        RunningStore();
        NodeId self = SelfRecord!.Id;
        NodeStatsMessage own = LocalStats();
        Task<SmdSsNodeStats>[] asks =
        [
            .. Nodes.Nodes
                .Where(n => n.Id == self || n.State != NodeState.Left)
                .Select(n => n.Id == self ? Task.FromResult(Known(n, own, isSelf: true)) : AskStatsAsync(n, cancellationToken)),
        ];
        return await Task.WhenAll(asks).ConfigureAwait(false);
    }

    private (MessageType, byte[]) OnNodeStats() => (MessageType.Ok, Messages.Encode(LocalStats()));

    private NodeStatsMessage LocalStats()
    {
        FlatFileStore store = RunningStore();
        NodeId self = SelfRecord!.Id;
        SliceMap map = SliceMap!;
        int primarySlices = 0;
        int replicaSlices = 0;
        long primaryKeys = 0;
        foreach (PieSlice slice in map.Slices)
        {
            if (slice.Primary == self)
            {
                primarySlices++;
                primaryKeys += store.SliceFor(slice.Range.Start).Count;
            }
            else if (slice.IsHeldBy(self))
            {
                replicaSlices++;
            }
        }

        return new NodeStatsMessage(
            self, _directory!.Incarnation, MonoMs(), store.Count, primaryKeys, store.DiskBytes, store.Memory.UsedBytes,
            primarySlices, replicaSlices, _operations.Total, Nodes.Digest, map.Digest);
    }

    private async Task<SmdSsNodeStats> AskStatsAsync(NodeRecord node, CancellationToken cancellationToken)
    {
        if (!node.IsReachable)
        {
            return Unknown(node);
        }

        try
        {
            Frame reply = await _transport!.SendAsync(node.Endpoint, MessageType.NodeStats, ReadOnlyMemory<byte>.Empty, StatsTimeout, cancellationToken).ConfigureAwait(false);
            if (reply.Type == MessageType.Ok && Messages.DecodeNodeStats(reply.Payload) is { } stats && stats.Id == node.Id)
            {
                return Known(node, stats, isSelf: false);
            }
        }
        catch (PeerUnavailableException)
        {
            // Down, stopped or slow: its figures are unknown.
        }
        catch (ProtocolException)
        {
            // An answer this version cannot read is no answer.
        }

        // An Error reply (a node that does not know NodeStats) or another node at that endpoint lands here too.
        return Unknown(node);
    }

    private static SmdSsNodeStats Known(NodeRecord node, NodeStatsMessage s, bool isSelf) => new(
        node.Id.ToString(), node.Endpoint, node.State.ToString(), isSelf, Reachable: true,
        s.Starts, s.MonotonicMs, s.Keys, s.PrimaryKeys, s.DiskBytes, s.MemoryBytes, s.PrimarySlices, s.ReplicaSlices, s.Operations,
        Hex(s.NodeMapDigest), Hex(s.SliceMapDigest));

    private static SmdSsNodeStats Unknown(NodeRecord node) => new(
        node.Id.ToString(), node.Endpoint, node.State.ToString(), IsSelf: false, Reachable: false,
        null, null, null, null, null, null, null, null, null, null, null);

    private static string Hex(UInt128 digest) => digest.ToString("x32", CultureInfo.InvariantCulture);
}
