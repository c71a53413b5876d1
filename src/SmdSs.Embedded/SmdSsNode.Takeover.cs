using SmdSs.Model;

namespace SmdSs;

/// <summary>
/// When a node may take over the slices of a silent primary. The node map holding the primary
/// Down is not enough: after a partition heals, a primary this node still holds Down may already
/// be at work with the others, and a record it confirmed with them would be lost to a takeover
/// from this node's older record. So a would-be successor pings the primary directly, again and
/// again while it stays silent, and hurries map exchanges with its peers; the rule is
/// <see cref="Core.MajorityContact.MayTakeOverFrom"/>.
/// </summary>
public sealed partial class SmdSsNode
{
    // Pings and exchanges under way, by the node they go to.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<NodeId, byte> _hurried = new();

    /// <summary>May this node take over the slices of <paramref name="primary"/>? See <see cref="Core.MajorityContact.MayTakeOverFrom"/>.</summary>
    private bool MayTakeOverFrom(NodeId primary, long heardSince)
    {
        List<NodeId> voters = Voters();
        lock (_contactLock)
        {
            return _contact!.MayTakeOverFrom(primary, voters, heardSince, MonoMs());
        }
    }

    /// <summary>
    /// For each slice this node would take over from a silent primary: pings of that primary, one
    /// at a time, until it is heard from or no longer silent; and once one failed, a map exchange
    /// with every reachable peer not exchanged with since, rather than wait for gossip's one peer
    /// per round to reach a majority (slow in a large farm).
    /// </summary>
    private void HurryTakeovers(long heardSince, CancellationToken stopping)
    {
        foreach (NodeId primary in SilentPrimariesToTakeOver(heardSince))
        {
            if (Nodes.Find(primary) is { } record && _hurried.TryAdd(primary, 0))
            {
                Track(PingSilentPrimaryAsync(record, stopping));
            }

            List<NodeRecord> peers;
            lock (_contactLock)
            {
                if (_contact!.PingsFailingSince(primary) is not { } since)
                {
                    continue;
                }

                peers = [.. Peers().Where(n => n.IsReachable && n.Id != primary && !_contact.ExchangedAfter(n.Id, since))];
            }

            foreach (NodeRecord peer in peers)
            {
                if (_hurried.TryAdd(peer.Id, 0))
                {
                    Track(HurryExchangeAsync(peer, stopping));
                }
            }
        }
    }

    private IEnumerable<NodeId> SilentPrimariesToTakeOver(long heardSince)
    {
        NodeId self = SelfRecord!.Id;
        return SliceMap!.Slices
            .Where(s => s.Primary is { } p && !_detector!.HeardSince(p, heardSince) && Placement.SliceMoves.TakeOver(s, self, IsServing) is not null)
            .Select(s => s.Primary!.Value).Distinct();
    }

    private async Task PingSilentPrimaryAsync(NodeRecord primary, CancellationToken stopping)
    {
        try
        {
            byte[] ping = Protocol.Messages.EncodeNode(SelfRecord!);
            while (!stopping.IsCancellationRequested)
            {
                long heardSince = MonoMs() - (long)_options.FailureDetectionTimeout.TotalMilliseconds;
                if (!SilentPrimariesToTakeOver(heardSince).Contains(primary.Id))
                {
                    break;
                }

                if (await TryPingAsync(primary, ping, ProbeTimeout, stopping).ConfigureAwait(false))
                {
                    break;
                }

                lock (_contactLock)
                {
                    _contact!.PingFailed(primary.Id, MonoMs());
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Core.MajorityContact.TakeoverPingIntervalMs), _time, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        finally
        {
            lock (_contactLock)
            {
                _contact!.PingsEnded(primary.Id);
            }

            _hurried.TryRemove(primary.Id, out _);
        }
    }

    private async Task HurryExchangeAsync(NodeRecord peer, CancellationToken stopping)
    {
        try
        {
            await SyncWithAsync(peer.Endpoint, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Transport.PeerUnavailableException or Protocol.ProtocolException or OperationCanceledException or ObjectDisposedException)
        {
            // The next round asks again.
        }
        finally
        {
            _hurried.TryRemove(peer.Id, out _);
        }
    }
}
