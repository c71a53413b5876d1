using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>Dispatches each request frame from an authenticated peer to the node.</summary>
public sealed partial class SmdSsNode
{
    private sealed class FrameHandler(SmdSsNode node) : IFrameHandler
    {
        public async ValueTask<(MessageType Type, byte[] Payload)> HandleAsync(Frame request, PeerIdentity from, CancellationToken cancellationToken)
        {
            if (node._store is null || node.SelfRecord is null)
            {
                return Error(ErrorCode.Unavailable, "node not running");
            }

            node.NoteContact(from.Id);
            switch (request.Type)
            {
                case MessageType.Ping:
                {
                    Model.NodeRecord sender = Messages.DecodeNode(request.Payload);
                    node.MergeNodes([sender]);
                    node.ForgetIfSaidGoodbye(from.Id, [sender]);
                    return (MessageType.Ok, Messages.EncodeNode(node.SelfRecord));
                }

                case MessageType.PingRequest:
                    return await node.OnPingRequestAsync(Messages.DecodeNode(request.Payload), cancellationToken).ConfigureAwait(false);
                case MessageType.SyncDigest:
                {
                    SyncDigestMessage digest = Messages.DecodeSyncDigest(request.Payload);
                    (MessageType, byte[]) reply = node.OnSyncDigest(digest);
                    node.ForgetIfSaidGoodbye(from.Id, [digest.Sender]);
                    return reply;
                }

                case MessageType.SyncDelta:
                {
                    SyncDeltaMessage delta = Messages.DecodeSyncDelta(request.Payload);
                    (MessageType, byte[]) reply = node.OnSyncDelta(delta);
                    node.ForgetIfSaidGoodbye(from.Id, delta.Nodes);
                    return reply;
                }

                case MessageType.Get or MessageType.Set or MessageType.Remove or MessageType.Refresh or MessageType.Probe:
                    return await node.OnForwardedAsync(request.Type, Messages.DecodeForwarded(request.Payload), cancellationToken).ConfigureAwait(false);
                case MessageType.Replicate:
                    return await node.OnReplicateAsync(from, Messages.DecodeSliceRecords(request.Payload), cancellationToken).ConfigureAwait(false);
                case MessageType.LeaseRequest:
                    return node.OnLeaseRequest(from.Id, Messages.DecodeStarts(request.Payload));
                case MessageType.SnapshotBegin or MessageType.DeltaBegin or MessageType.SnapshotChunk or MessageType.SnapshotEnd:
                {
                    (long session, SliceRecordsMessage message) = Messages.DecodeCatchUp(request.Payload);
                    return await node.OnCatchUpAsync(request.Type, from, session, message, cancellationToken).ConfigureAwait(false);
                }

                case MessageType.Handoff:
                    return await node.OnHandoffAsync(Messages.DecodeSliceRecords(request.Payload), cancellationToken).ConfigureAwait(false);
                case MessageType.DigestRequest:
                    return node.OnDigestRequest(Messages.DecodeSliceRecords(request.Payload));
                case MessageType.BucketVersions or MessageType.FetchRecords:
                    return node.OnSliceQuery(request.Type, Messages.DecodeSliceQuery(request.Payload));
                case MessageType.Atomic:
                    return await node.OnAtomicAsync(ComputeMessages.DecodeAtomic(request.Payload), cancellationToken).ConfigureAwait(false);
                case MessageType.MapSlice:
                    return node.OnMapSlice(ComputeMessages.DecodeMapSlice(request.Payload));
                case MessageType.NodeStats:
                    return node.OnNodeStats();
                case MessageType.Goodbye:
                    return await node.OnGoodbyeAsync(from.Id, Messages.DecodeStarts(request.Payload), cancellationToken).ConfigureAwait(false);
                default:
                    throw new ProtocolException($"unknown message type {(byte)request.Type}");
            }
        }
    }
}
