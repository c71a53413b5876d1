using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Saying goodbye. On stop: finish in-flight writes, hand the primary role of every slice to an
/// in-sync replica, give back read leases, and tell everyone this node is Down, so that no
/// request waits on a timeout. Its slices stay assigned to it for the grace period; when it
/// returns it catches up before it serves a local read. Decommission: leave for good, after
/// every slice has moved to other nodes.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan GoodbyeTimeout = TimeSpan.FromSeconds(5);
    private volatile bool _goingDown;
    private bool _decommissioned;

    /// <summary>
    /// Moves every slice this node holds to other nodes (no data is lost), then stops the node
    /// and leaves the cluster for good. Needs enough other nodes to hold the slices.
    /// </summary>
    /// <exception cref="TimeoutException">Slices could not be moved within <paramref name="timeout"/>; the node keeps serving.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before every slice moved; the node keeps serving.</exception>
    public async Task DecommissionAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        RunningStore();
        SetSelfState(NodeState.Leaving);
        Log.Decommissioning(_logger, SelfRecord!.Id.ToString(), SliceMap!.Slices.Count(s => s.IsHeldBy(SelfRecord.Id)));
        await BroadcastAsync([]).ConfigureAwait(false);
        DateTimeOffset deadline = _time.GetUtcNow() + timeout;
        try
        {
            while (SliceMap!.Slices.Any(s => s.IsHeldBy(SelfRecord!.Id)))
            {
                if (_time.GetUtcNow() > deadline)
                {
                    throw new TimeoutException($"Decommission did not move every slice within {timeout}; the node stays in the cluster.");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200), _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // Given up half-way: the node serves on as before, never stuck Leaving.
            SetSelfState(NodeState.Up, bumpIncarnation: true);
            throw;
        }

        _decommissioned = true;
        await StopAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task SayGoodbyeAsync()
    {
        _goingDown = true;
        // Before the count is read: a write that counts itself in flight after this sees it (RefuseIfWithdrawn).
        Interlocked.MemoryBarrier();
        using var timeout = new CancellationTokenSource(GoodbyeTimeout);
        while (Volatile.Read(ref _writesInFlight) > 0 && !timeout.IsCancellationRequested)
        {
            await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
        }

        NodeId self = SelfRecord!.Id;
        var handedOver = new List<PieSlice>();
        foreach (PieSlice slice in SliceMap!.Slices.Where(s => s.Primary == self))
        {
            if (Placement.SliceMoves.HandOver(slice, self, IsServing) is { } record
                && await CommitSliceAsync(slice, record, "primary stopping", CancellationToken.None).ConfigureAwait(false))
            {
                handedOver.Add(record);
            }
        }

        lock (_stateLock)
        {
            _slices!.DropAllHeld();
        }

        var byPrimary = SliceMap!.Slices.Where(s => s.Primary is { } p && p != self && s.IsInSync(self)).GroupBy(s => s.Primary!.Value);
        await Task.WhenAll(byPrimary.Select(g => SendGoodbyeAsync(g.Key, [.. g]))).ConfigureAwait(false);

        SetSelfState(_decommissioned ? NodeState.Left : NodeState.Down);
        await BroadcastAsync(handedOver).ConfigureAwait(false);
    }

    private async Task SendGoodbyeAsync(NodeId primary, List<PieSlice> slices)
    {
        if (Nodes.Find(primary) is { IsReachable: true } node)
        {
            try
            {
                await _transport!.SendAsync(node.Endpoint, MessageType.Goodbye, Messages.EncodeStarts(slices.Select(s => (s.Range.Start, s.Epoch))), GoodbyeTimeout, CancellationToken.None).ConfigureAwait(false);
            }
            catch (PeerUnavailableException)
            {
                // It will notice by the failure detector; our lease runs out by then.
            }
        }
    }

    /// <summary>Primary side: a replica gave its leases back and leaves the in-sync set at once.</summary>
    private async Task<(MessageType, byte[])> OnGoodbyeAsync(NodeId replica, List<(uint Start, long Epoch)> slices, CancellationToken cancellationToken)
    {
        foreach ((uint start, _) in slices)
        {
            lock (_stateLock)
            {
                _slices!.Released(start, replica);
            }

            await DropFromInSyncAsync(start, [replica], cancellationToken).ConfigureAwait(false);
        }

        return (MessageType.Ok, []);
    }

    private void SetSelfState(NodeState state, bool bumpIncarnation = false)
    {
        lock (_stateLock)
        {
            _membership!.SetSelfState(state, NowMs(), bumpIncarnation);
            PersistState();
        }
    }
}
