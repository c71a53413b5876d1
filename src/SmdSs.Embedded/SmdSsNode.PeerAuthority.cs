using SmdSs.Model;
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
    private readonly Diagnostics.LogRateLimit _refusedAnswerLog = new(10);

    /// <summary>An answer to this node's own request held what it refuses: nothing of it was applied. Rate-limited.</summary>
    private void LogRefusedAnswer(string peer, string reason)
    {
        if (_refusedAnswerLog.TryTake(MonoMs(), out long suppressed))
        {
            Diagnostics.Log.AnswerRefused(_logger, peer, reason, suppressed);
        }
    }

    private void RefuseForgedNodes(IReadOnlyCollection<NodeRecord> records)
    {
        if (_membership?.Refusal(records, NowMs()) is { } reason)
        {
            throw new PeerRefusedException(reason);
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
    /// the record held, its record is fetched from it (at the endpoint it authenticated with) and
    /// merged first (a new primary's writes may arrive before its record does). Null when the
    /// newer record could not be fetched now: the sender is told to retry.
    /// </summary>
    private async ValueTask<PieSlice?> SliceForDataFromAsync(Transport.PeerIdentity from, uint start, long claimedEpoch, CancellationToken cancellationToken)
    {
        PieSlice slice = SliceMap!.Find(start);
        if (slice.Primary == from.Id || claimedEpoch <= slice.Epoch)
        {
            return slice;
        }

        string endpoint = Nodes.Find(from.Id)?.Endpoint ?? from.Endpoint;
        try
        {
            var ask = new SyncDeltaMessage([SelfRecord!], [], [], [start]);
            Frame reply = await _transport!.SendAsync(endpoint, MessageType.SyncDelta, Messages.Encode(ask), GossipTimeout, cancellationToken).ConfigureAwait(false);
            if (reply.Type != MessageType.SyncDelta)
            {
                return null;
            }

            MergeSlices(Messages.DecodeSyncDelta(reply.Payload).Slices);
        }
        catch (Transport.PeerUnavailableException)
        {
            return null;
        }

        return SliceMap!.Find(start);
    }

    /// <summary>
    /// The answer to slice data (<paramref name="what"/>) from a node that does not lead the
    /// slice: "stale epoch" when it claims no newer epoch than this node's record (a deposed
    /// primary whose write raced a handover), a refusal that cuts it off when it claims one it
    /// could not show.
    /// </summary>
    private (MessageType, byte[]) NotFromPrimary(NodeId from, PieSlice slice, long claimedEpoch, string what)
    {
        string whose = slice.Primary == SelfRecord!.Id ? "which this node leads" : "which it does not lead";
        return claimedEpoch <= slice.Epoch
            ? Error(ErrorCode.StaleEpoch, $"{what} from {from}: slice {slice.Range} is at epoch {slice.Epoch} with primary {slice.Primary}, {whose}")
            : throw new PeerRefusedException($"{what} from {from}: slice {slice.Range}, {whose}, claimed at epoch {claimedEpoch} past {slice.Epoch}: only its primary sends its data");
    }

    /// <summary>The answer when a sender's newer record could not be fetched: retry.</summary>
    private static (MessageType, byte[]) NewerRecordNotFetched(NodeId from, uint start, long claimedEpoch) =>
        Error(ErrorCode.StaleEpoch, $"{from} claims epoch {claimedEpoch} of the slice at {start:x8}, newer than this node's, and could not be asked for it");
}
