using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Read leases: an in-sync replica asks each primary for leases on its slices every half
/// second; a granted lease lets it answer reads locally for LeaseDuration from the moment it
/// asked. See <see cref="Replication.LeaseTable"/> for why this cannot serve a stale read.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LeaseRenewInterval = TimeSpan.FromMilliseconds(500);
    private readonly Replication.LeaseTable _leases = new();

    private async Task LeaseLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(LeaseRenewInterval, _time);
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            if (_goingDown)
            {
                continue;
            }

            NodeId self = _self!.Id;
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

            foreach ((uint start, _) in Messages.DecodeStarts(reply.Payload))
            {
                _leases.Hold(start, primary, askedAtMs + (long)LeaseDuration.TotalMilliseconds);
            }
        }
        catch (PeerUnavailableException)
        {
            // The lease runs out; reads go to the primary meanwhile.
        }
    }

    /// <summary>Primary side: grants a lease on each asked slice where the asker is in sync.</summary>
    private (MessageType, byte[]) OnLeaseRequest(NodeId replica, List<(uint Start, long Epoch)> asked)
    {
        long untilMs = MonoMs() + (long)LeaseDuration.TotalMilliseconds;
        var granted = new List<(uint, long)>();
        // Under the state lock: a commit that drops this replica cannot slip in between the
        // check and the grant.
        // Only for the record the replica knows (after a split, an old record's lease would cover
        // the other half too), and only while this primary is in touch with a majority (a cut-off
        // primary must not keep its replicas serving reads the majority has moved past).
        bool inTouch = HasReadQuorum();
        lock (_stateLock)
        {
            SliceMap map = SliceMap!;
            foreach ((uint start, long epoch) in asked)
            {
                PieSlice slice = map.Find(start);
                if (!_goingDown && inTouch && slice.Range.Start == start && slice.Epoch == epoch && slice.Primary == _self!.Id && slice.IsInSync(replica) && !_leases.IsRevoked(start, replica))
                {
                    _leases.Grant(start, replica, untilMs);
                    granted.Add((start, slice.Epoch));
                }
            }
        }

        return (MessageType.Ok, Messages.EncodeStarts(granted));
    }

    /// <summary>May this node answer a read of <paramref name="slice"/> from its own copy, with no network?</summary>
    private bool CanReadLocally(PieSlice slice)
    {
        NodeId self = _self!.Id;
        if (_goingDown || !_confirmed.Task.IsCompleted)
        {
            return false;
        }

        return (slice.Primary == self && HasReadQuorum())
            || (slice.IsInSync(self) && slice.Primary is { } primary && _leases.Holds(slice.Range.Start, primary, MonoMs()));
    }
}
