using SmdSs.Membership;
using SmdSs.Placement;
using SmdSs.Protocol;
using SmdSs.Replication;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// What an authenticated peer may make this node do. Numbers it sends stay within
/// <see cref="PeerClaims"/>' bounds; slice data (replicated writes, catch-up streams) is applied
/// only from the node this node's own slice record names as primary, learning a newer record
/// from the sender first when the sender claims one; a slice this node leads is never replaced
/// by a snapshot. A refusal throws <see cref="PeerRefusedException"/>: nothing of the message is
/// applied, and the listener logs the reason and closes the connection.
/// </summary>
public sealed partial class SmdSsNode
{
    private void RefuseForgedNodes(IReadOnlyCollection<NodeRecord> records)
    {
        NodeMap nodes = Nodes;
        foreach (NodeRecord record in records)
        {
            NodeRecord? held = record.Id == _self?.Id ? _self : nodes.Find(record.Id);
            if (PeerClaims.RefuseNode(record, held) is { } reason)
            {
                throw new PeerRefusedException(reason);
            }
        }
    }

    private void RefuseForgedSlices(IReadOnlyCollection<PieSlice> records)
    {
        SliceMap slices = SliceMap!;
        foreach (PieSlice record in records)
        {
            if (PeerClaims.RefuseSlice(record, slices.Find(record.Range.Start)) is { } reason)
            {
                throw new PeerRefusedException(reason);
            }
        }
    }

    private void RefuseForgedVersions(IEnumerable<StorageRecord> records)
    {
        long now = NowMs();
        foreach (StorageRecord record in records)
        {
            if (PeerClaims.RefuseVersion(record.Version, now) is { } reason)
            {
                throw new PeerRefusedException($"key {record.Key}: {reason}");
            }
        }
    }

    /// <summary>
    /// This node's record of the slice starting at <paramref name="start"/>, once it is sure
    /// whether <paramref name="from"/> may send its data: when the peer claims an epoch newer than
    /// the record held, its record is fetched and merged first (a new primary's writes may arrive
    /// before its record does). Null when the newer record could not be fetched now.
    /// </summary>
    private async ValueTask<PieSlice?> SliceForDataFromAsync(NodeId from, uint start, long claimedEpoch, CancellationToken cancellationToken)
    {
        PieSlice slice = SliceMap!.Find(start);
        if (slice.Primary == from || claimedEpoch <= slice.Epoch || Nodes.Find(from) is not { } sender)
        {
            return slice;
        }

        try
        {
            var ask = new SyncDeltaMessage([_self!], [], [], [start]);
            Frame reply = await _transport!.SendAsync(sender.Endpoint, MessageType.SyncDelta, Messages.Encode(ask), GossipTimeout, cancellationToken).ConfigureAwait(false);
            if (reply.Type == MessageType.SyncDelta)
            {
                MergeSlices(Messages.DecodeSyncDelta(reply.Payload).Slices);
            }
        }
        catch (Transport.PeerUnavailableException)
        {
            return null;
        }

        return SliceMap!.Find(start);
    }

    /// <summary>Refuses slice data from <paramref name="from"/> unless it leads <paramref name="slice"/> (or the data is for a half of it the sender split).</summary>
    private static void RefuseDataWithoutAuthority(NodeId from, PieSlice slice, string what)
    {
        if (slice.Primary != from)
        {
            throw new PeerRefusedException($"{what} for slice {slice.Range} from {from}, which is not its primary ({slice.Primary}, epoch {slice.Epoch})");
        }
    }
}
