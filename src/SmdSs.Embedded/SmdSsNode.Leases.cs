using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Read leases: an in-sync replica asks each primary for leases on its slices every half
/// second; a granted lease lets it answer reads locally for LeaseDuration from the moment it
/// asked. See <see cref="Core.SliceAuthority"/> for why this cannot serve a stale read.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LeaseRenewInterval = TimeSpan.FromMilliseconds(500);

    private async Task LeaseLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(LeaseRenewInterval, _time);
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            if (Withdrawn)
            {
                continue;
            }

            lock (_stateLock)
            {
                _slices!.ForgetEndedGrants(MonoMs());
            }

            NodeId self = SelfRecord!.Id;
            var byPrimary = SliceMap!.Slices
                .Where(s => s.Primary is { } p && p != self && s.IsInSync(self) && IsReachable(p))
                .GroupBy(s => s.Primary!.Value);
            await Task.WhenAll(byPrimary.Select(group => RenewAsync(group.Key, [.. group], stopping))).ConfigureAwait(false);
        }
    }

    private async Task RenewAsync(NodeId primary, List<PieSlice> slices, CancellationToken stopping)
    {
        if (Nodes.Find(primary) is not { } node)
        {
            return;
        }

        long askedAtMs = MonoMs();
        try
        {
            Frame reply = await _transport!.SendAsync(node.Endpoint, MessageType.LeaseRequest, Messages.EncodeStarts(slices.Select(s => (s.Range.Start, s.Epoch))), LeaseDuration / 2, stopping).ConfigureAwait(false);
            if (reply.Type != MessageType.Ok)
            {
                return;
            }

            List<(uint Start, long Epoch)> granted = Messages.DecodeStarts(reply.Payload);
            lock (_stateLock)
            {
                _slices!.Held(primary, granted.Select(g => g.Start), askedAtMs);
            }
        }
        catch (PeerUnavailableException)
        {
            // The lease runs out; reads go to the primary meanwhile.
        }
    }

    /// <summary>Primary side: grants a lease on each asked slice where the asker is in sync (see <see cref="Core.SliceAuthority.Grant"/>).</summary>
    private (MessageType, byte[]) OnLeaseRequest(NodeId replica, List<(uint Start, long Epoch)> asked)
    {
        // Only while this primary is in touch with a majority: a cut-off primary must not keep
        // its replicas serving reads the majority has moved past.
        bool inTouch = HasReadQuorum();
        lock (_stateLock)
        {
            return (MessageType.Ok, Messages.EncodeStarts(_slices!.Grant(replica, asked, MonoMs(), mayGrant: inTouch && !Withdrawn)));
        }
    }

    /// <summary>May this node answer a read of <paramref name="slice"/> from its own copy, with no network?</summary>
    private bool CanReadLocally(PieSlice slice)
    {
        NodeId self = SelfRecord!.Id;
        if (Withdrawn || !_confirmed.Task.IsCompleted)
        {
            return false;
        }

        return (slice.Primary == self && HasReadQuorum())
            || (slice.IsInSync(self) && slice.Primary is { } primary && _slices!.Leases.Holds(slice.Range.Start, primary, MonoMs()));
    }
}
