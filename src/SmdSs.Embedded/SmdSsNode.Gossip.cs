using SmdSs.Membership;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Gossip with digests: every round this node sends its two map digests to one peer (a friend
/// every few rounds). Equal digests cost that one small message and its empty answer. When
/// they differ the peer answers with per-entry versions, and the two exchange only the entries
/// that differ (push what this node has newer, pull what the peer has newer).
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan GossipInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan GossipTimeout = TimeSpan.FromSeconds(2);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _refusalsLoggedMs = new(StringComparer.OrdinalIgnoreCase);
    private int _gossipRound;
    private Task _downSync = Task.CompletedTask;

    private async Task GossipLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(GossipInterval, _time);
        long rounds = 0;
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            if (++rounds % 50 == 0)
            {
                ForgetUnlistedPeers();
            }

            string? target = PickGossipTarget(out bool isDown);
            if (target is null)
            {
                continue;
            }

            if (isDown)
            {
                // A node held Down may be gone for good, its address with it: a connection attempt
                // can take the whole connect timeout, so it runs aside, one at a time.
                _downSync = SyncWithDownNodeAsync(target, stopping);
                continue;
            }

            await TrySyncWithAsync(target, stopping).ConfigureAwait(false);
        }
    }

    private async Task SyncWithDownNodeAsync(string endpoint, CancellationToken stopping)
    {
        try
        {
            await TrySyncWithAsync(endpoint, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        catch (Exception ex) when (ex is ProtocolException or IOException or InvalidOperationException or SmdSsUnavailableException)
        {
            Diagnostics.Log.ClusterTaskFailed(_logger, ex);
        }
    }

    private async Task TrySyncWithAsync(string endpoint, CancellationToken stopping)
    {
        try
        {
            await SyncWithAsync(endpoint, stopping).ConfigureAwait(false);
        }
        catch (PeerUnavailableException ex) when (ex.IsRefusal)
        {
            ReportRefusal(ex);
        }
        catch (PeerUnavailableException)
        {
            // Unreachable now; the failure detector decides whether it is down.
        }
    }

    // A refused handshake is a configuration error: say so, but not every gossip round.
    private void ReportRefusal(PeerUnavailableException ex)
    {
        long now = MonoMs();
        if (now - _refusalsLoggedMs.GetValueOrDefault(ex.Endpoint, long.MinValue / 2) >= 30_000)
        {
            _refusalsLoggedMs[ex.Endpoint] = now;
            Diagnostics.Log.HandshakeRefused(_logger, ex.Endpoint, ex.Reason);
        }
    }

    private string? PickGossipTarget(out bool isDown)
    {
        int round = Interlocked.Increment(ref _gossipRound);
        string self = SelfRecord!.Endpoint;
        List<string> reachable = [.. Peers().Where(n => n.IsReachable).Select(n => n.Endpoint)];
        // Not this node's own address (an old id of it may be Down there), nor one a serving node has now.
        var taken = new HashSet<string>(reachable, StringComparer.OrdinalIgnoreCase) { self };
        List<string> down = [.. Peers().Where(n => !n.IsReachable).OrderByDescending(n => n.GoneSinceMs).Select(n => n.Endpoint).Where(taken.Add)];
        List<string> friends = [.. _options.Friends.Concat(_contacts).Where(f => !string.Equals(f, self, StringComparison.OrdinalIgnoreCase))];
        // The gossip loop alone starts these calls: one still running blocks the next.
        return GossipTarget.TryPick(round, reachable, friends, down, _downSync.IsCompleted, Random.Shared, out string? target, out isDown) ? target : null;
    }

    /// <summary>Closes connections to endpoints that are neither a friend nor a node in the map (other than a Left one).</summary>
    private void ForgetUnlistedPeers()
    {
        HashSet<string> listed = new([.. _options.Friends, .. _contacts], StringComparer.OrdinalIgnoreCase);
        listed.UnionWith(Nodes.Nodes.Where(n => n.State != NodeState.Left).Select(n => n.Endpoint));
        _transport!.ForgetUnlisted(listed.Contains);
    }

    /// <summary>One digest exchange with <paramref name="endpoint"/>, and the delta if the digests differ.</summary>
    internal async Task SyncWithAsync(string endpoint, CancellationToken cancellationToken)
    {
        try
        {
            await ExchangeDigestsAsync(endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch (PeerRefusedException ex)
        {
            // Its answer held records out of bounds: nothing of it merged.
            LogRefusedAnswer(endpoint, ex.Message);
        }
    }

    private async Task ExchangeDigestsAsync(string endpoint, CancellationToken cancellationToken)
    {
        // The peer's maps in its answer are at least as new as this.
        long startedAtMs = MonoMs();
        SyncDigestMessage digest = Core.MapSync.Digest(SelfRecord!, Nodes, SliceMap!);
        Frame reply = await _transport!.SendAsync(endpoint, MessageType.SyncDigest, Messages.Encode(digest), GossipTimeout, cancellationToken).ConfigureAwait(false);
        if (reply.Type == MessageType.Ok)
        {
            Confirm(endpoint, startedAtMs);
            return;
        }

        if (reply.Type != MessageType.SyncSummary)
        {
            return;
        }

        SyncSummaryMessage summary = Messages.DecodeSyncSummary(reply.Payload);
        SyncDeltaMessage push = Core.MapSync.DeltaAgainst(summary, Nodes, SliceMap!);
        Frame answer = await _transport.SendAsync(endpoint, MessageType.SyncDelta, Messages.Encode(push), GossipTimeout, cancellationToken).ConfigureAwait(false);
        if (answer.Type == MessageType.SyncDelta)
        {
            SyncDeltaMessage pulled = Messages.DecodeSyncDelta(answer.Payload);
            RefuseForgedNodes([.. pulled.Nodes]);
            RefuseForgedSlices([.. pulled.Slices]);
            MergeNodes(pulled.Nodes);
            MergeSlices(pulled.Slices);
            Confirm(endpoint, startedAtMs);
        }
    }

    private void Confirm(string endpoint, long startedAtMs)
    {
        DropContact(endpoint);
        // The node serving at that address now (an old id of a node back at the same address is Down).
        NodeId? peer = Nodes.Nodes.Where(n => string.Equals(n.Endpoint, endpoint, StringComparison.OrdinalIgnoreCase))
            .OrderByDescending(n => n.IsReachable).Select(n => (NodeId?)n.Id).FirstOrDefault();
        Resynced(peer, startedAtMs);
        // A bootstrap map (every record at epoch 0) is confirmed only by the farm's established
        // map, or by the start-up timeout: two joiners that confirmed each other's bootstrap maps
        // before reaching the farm would commit epoch 1, tie the founder's records and, with the
        // lower primary id, win over them (the founder's copies then wiped).
        if (SliceMap!.Slices.Any(s => s.Epoch > 0) && _confirmed.TrySetResult())
        {
            ConfirmRecords();
        }
    }

    private (MessageType, byte[]) OnSyncDigest(SyncDigestMessage digest)
    {
        MergeNodes([digest.Sender]);
        if (Core.MapSync.SummaryFor(digest, Nodes, SliceMap!) is { } summary)
        {
            return (MessageType.SyncSummary, Messages.Encode(summary));
        }

        Resynced(digest.Sender.Id, MonoMs());
        return (MessageType.Ok, []);
    }

    private (MessageType, byte[]) OnSyncDelta(SyncDeltaMessage delta)
    {
        // The whole message, before any of it is merged.
        RefuseForgedNodes([.. delta.Nodes]);
        RefuseForgedSlices([.. delta.Slices]);
        MergeNodes(delta.Nodes);
        MergeSlices(delta.Slices);
        return (MessageType.SyncDelta, Messages.Encode(Core.MapSync.Answer(delta, Nodes, SliceMap!, _initialLayout)));
    }

    /// <summary>Sends a changed slice record straight to its replicas, rather than waiting for gossip to carry it.</summary>
    private void PushSlice(PieSlice slice)
    {
        var delta = Messages.Encode(new SyncDeltaMessage([SelfRecord!], [slice], [], []));
        foreach (NodeId replica in slice.Replicas.Where(n => n != SelfRecord!.Id && IsReachable(n)))
        {
            if (Nodes.Find(replica) is { } node)
            {
                _ = SendQuietlyAsync(node.Endpoint, MessageType.SyncDelta, delta);
            }
        }
    }

    /// <summary>
    /// Sends each record of a slice this node leads that took replicas out of the in-sync set (or
    /// that it came to lead), and that no majority is known to hold, to every reachable peer,
    /// asking for the peer's record back, in the rounds of <see cref="Core.RecordConfirmations"/>:
    /// once a majority of voters (this node included) answer with it, writes no longer need to
    /// reach the replicas it took out (see <see cref="Core.SliceAuthority.WriteRequires"/>). Only
    /// once this node's maps are confirmed (its voters are the farm's).
    /// </summary>
    private void ConfirmRecords()
    {
        if (_transport is null || _slices is not { } authority || !_confirmed.Task.IsCompleted)
        {
            return;
        }

        List<PieSlice> ask;
        Core.RecordConfirmations rounds;
        lock (_stateLock)
        {
            rounds = _recordConfirmations!;
            ask = rounds.Begin(authority, Voters());
        }

        foreach (PieSlice record in ask)
        {
            Task round = ConfirmAsync(authority, rounds, record, _stoppingToken);
            // The newest record's round, whichever of two concurrent calls stores first.
            _confirmationRounds.AddOrUpdate(
                record.Range.Start, (record.Epoch, round), (_, held) => held.Epoch > record.Epoch ? held : (record.Epoch, round));
            Track(round);
        }
    }

    // The round of the newest record per slice: a write that missed a replica just taken out waits for it.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<uint, (long Epoch, Task Task)> _confirmationRounds = new();

    private async Task ConfirmAsync(Core.SliceAuthority authority, Core.RecordConfirmations rounds, PieSlice record, CancellationToken stopping)
    {
        var over = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await AskHoldersAsync(authority, rounds, record, over, stopping).ConfigureAwait(false);
        }
        finally
        {
            // Unconfirmed (every peer answered, or this failed): the next call of ConfirmRecords asks again.
            if (!over.Task.IsCompleted)
            {
                lock (_stateLock)
                {
                    rounds.Ended(record);
                }
            }
        }
    }

    private async Task AskHoldersAsync(Core.SliceAuthority authority, Core.RecordConfirmations rounds, PieSlice record, TaskCompletionSource over, CancellationToken stopping)
    {
        byte[] ask = Messages.Encode(new SyncDeltaMessage([SelfRecord!], [record], [], [record.Range.Start]));
        Task all = Task.WhenAll(Peers().Where(n => n.IsReachable).Select(async peer =>
        {
            PieSlice? theirs = null;
            try
            {
                Frame reply = await _transport!.SendAsync(peer.Endpoint, MessageType.SyncDelta, ask, GossipTimeout, stopping).ConfigureAwait(false);
                if (reply.Type == MessageType.SyncDelta)
                {
                    theirs = Messages.DecodeSyncDelta(reply.Payload).Slices.FirstOrDefault(s => s.ContentEquals(record));
                }
            }
            catch (Exception ex) when (ex is PeerUnavailableException or ProtocolException or OperationCanceledException or ObjectDisposedException)
            {
                // Not a holder; the next round asks again.
            }

            lock (_stateLock)
            {
                if (rounds.Answered(authority, record, peer.Id, theirs, Voters()))
                {
                    over.TrySetResult();
                }
            }
        }));
        await Task.WhenAny(over.Task, all).ConfigureAwait(false);
    }

    /// <summary>Broadcast of this node's own record and some slices to every reachable peer (goodbye, decommission).</summary>
    private async Task BroadcastAsync(IReadOnlyList<PieSlice> slices)
    {
        var delta = Messages.Encode(new SyncDeltaMessage([SelfRecord!], slices, [], []));
        await Task.WhenAll(Peers().Where(n => n.IsReachable).Select(n => SendQuietlyAsync(n.Endpoint, MessageType.SyncDelta, delta))).ConfigureAwait(false);
    }

    private async Task SendQuietlyAsync(string endpoint, MessageType type, byte[] payload)
    {
        try
        {
            await _transport!.SendAsync(endpoint, type, payload, GossipTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (PeerUnavailableException)
        {
            // Gossip carries it later.
        }
    }
}
