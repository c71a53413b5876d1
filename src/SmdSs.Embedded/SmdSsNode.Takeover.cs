using SmdSs.Model;

namespace SmdSs;

/// <summary>
/// When a node may take over the slices of a silent primary. The node map holding the primary
/// Down is not enough: after a partition heals, a primary this node still holds Down may already
/// be at work with the others, and a record it confirmed with them (a replica taken out, then
/// writes acknowledged without it) would be lost to a takeover from this node's older record. So
/// a would-be successor pings the primary directly, again and again while it stays silent, and
/// takes over only while those pings keep failing and once it exchanged maps, since the first
/// of them failed, with peers that with it make a majority: a record binds writes only once a
/// majority holds it (<see cref="Core.SliceAuthority.WriteRequires"/>), so one of those peers has
/// any the primary confirmed before it became unreachable, and the takeover starts from it.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan TakeoverPingInterval = TimeSpan.FromMilliseconds(500);

    // Per silent primary this node would take over from: the first and the last failure of an
    // unbroken run of direct pings (MonoMs); gone once it is heard from.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<NodeId, (long FirstFailedAtMs, long LastFailedAtMs)> _takeoverPings = new();

    // Pings and exchanges under way, by the node they go to.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<NodeId, byte> _hurried = new();

    /// <summary>
    /// May this node take over the slices of <paramref name="primary"/>? Not if it heard from it
    /// since <paramref name="heardSince"/>; only while its direct pings of it keep failing (the
    /// last within a ping's timeout and two ping intervals), in a run that began after this node
    /// last heard from it; and once it exchanged maps, since the run began, with peers that with
    /// it make a majority. A primary this node cannot reach that still reaches a majority (a
    /// one-way or partial partition), or a partition that heals within the last ping's time, can
    /// still confirm records the takeover misses; see the known gaps.
    /// </summary>
    private bool MayTakeOverFrom(NodeId primary, long heardSince)
    {
        if (_detector!.HeardSince(primary, heardSince) || !_takeoverPings.TryGetValue(primary, out var pings))
        {
            return false;
        }

        long silentSince = _detector.LastHeardMs(primary) ?? long.MinValue;
        long freshMs = (long)(ProbeTimeout + 2 * TakeoverPingInterval).TotalMilliseconds;
        return pings.FirstFailedAtMs > silentSince && pings.LastFailedAtMs >= MonoMs() - freshMs
            && Membership.Quorum.Holds(SelfRecord!.Id, Voters(), n => n != primary && _exchangedAtMs.TryGetValue(n, out long at) && at > pings.FirstFailedAtMs);
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

            if (!_takeoverPings.TryGetValue(primary, out var pings))
            {
                continue;
            }

            foreach (NodeRecord peer in Peers().Where(n => n.IsReachable && n.Id != primary && !(_exchangedAtMs.TryGetValue(n.Id, out long at) && at > pings.FirstFailedAtMs)))
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

                long now = MonoMs();
                long silentSince = _detector!.LastHeardMs(primary.Id) ?? long.MinValue;
                _takeoverPings.AddOrUpdate(
                    primary.Id,
                    (now, now),
                    (_, run) => run.FirstFailedAtMs > silentSince ? (run.FirstFailedAtMs, now) : (now, now));
                await Task.Delay(TakeoverPingInterval, _time, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        finally
        {
            _takeoverPings.TryRemove(primary.Id, out _);
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
