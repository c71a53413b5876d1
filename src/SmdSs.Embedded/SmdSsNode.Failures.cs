using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Failure detection: every half second each reachable peer is pinged; any message from a
/// peer counts as a sign of life. A ping that fails is retried indirectly (SWIM): two other
/// peers are asked to ping the node, so a slow or lossy link between two nodes does not make
/// one declare the other dead. A node silent for 40% of FailureDetectionTimeout whose last
/// probe round failed becomes Suspect, one silent for all of it Down, in this node's map, and gossip spreads the verdict; the node
/// itself refutes a wrong one with a higher incarnation.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan PingInterval = TimeSpan.FromMilliseconds(500);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<NodeId, Task> _probes = new();

    // Probes run on their own; the verdicts are drawn every tick, so a slow probe (a dead peer
    // answers nothing until the timeout) never delays the detection of another.
    private async Task FailureDetectionLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(PingInterval, _time);
        RefreshReadQuorum();
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            RefreshReadQuorum();
            byte[] ping = Messages.EncodeNode(SelfRecord!);
            foreach (NodeRecord peer in Peers().Where(n => n.IsReachable))
            {
                if (!_probes.TryGetValue(peer.Id, out Task? running) || running.IsCompleted)
                {
                    _probes[peer.Id] = PingAsync(peer, ping, stopping);
                }
            }

            List<NodeRecord> verdicts = [.. _detector!.Evaluate(Nodes, SelfRecord!.Id, MonoMs(), NowMs())];
            if (verdicts.Count > 0)
            {
                MergeNodes(verdicts);
            }

            ForgetThoseWhoSaidGoodbye();

            TendNodeMap();
        }
    }

    private const int IndirectProbes = 2;

    private async Task PingAsync(NodeRecord peer, byte[] ping, CancellationToken stopping)
    {
        if (await TryPingAsync(peer, ping, ProbeTimeout, stopping).ConfigureAwait(false))
        {
            return;
        }

        List<NodeRecord> helpers = [.. Peers().Where(n => n.IsReachable && n.Id != peer.Id).OrderBy(_ => Random.Shared.Next()).Take(IndirectProbes)];
        byte[] request = Messages.EncodeNode(peer);
        bool[] reached = await Task.WhenAll(helpers.Select(h => AskToPingAsync(h, request, stopping))).ConfigureAwait(false);
        if (reached.Any(r => r))
        {
            NoteContact(peer.Id);
        }
        else
        {
            _detector!.ProbeFailed(peer.Id, MonoMs());
        }
    }

    private async Task<bool> TryPingAsync(NodeRecord peer, byte[] ping, TimeSpan timeout, CancellationToken stopping)
    {
        try
        {
            Frame pong = await _transport!.SendAsync(peer.Endpoint, MessageType.Ping, ping, timeout, stopping).ConfigureAwait(false);
            if (pong.Type == MessageType.Ok && pong.Payload.Length > 0)
            {
                NodeRecord record = Messages.DecodeNode(pong.Payload);
                if (record.Id == peer.Id && !record.IsServing)
                {
                    // It says itself that it stopped (its listener closes last): as ForgetIfSaidGoodbye,
                    // not heard from, so its slices are taken over now, not a detection timeout later.
                    MergeNodes([record]);
                    SaidGoodbye(record);
                    return false;
                }

                if (record.Id == peer.Id && !(_saidGoodbye.TryGetValue(peer.Id, out long stoppedIn) && record.Incarnation <= stoppedIn))
                {
                    NoteContact(peer.Id, record.Incarnation);
                    MergeNodes([record]);
                    return true;
                }
            }
        }
        catch (PeerUnavailableException)
        {
            // Silence is what the detector measures.
        }
        catch (ProtocolException)
        {
            // A peer that answers garbage is as good as silent.
        }
        catch (PeerRefusedException ex)
        {
            // Its own record is out of bounds: as good as silent, and said (here, not as the fault of whoever asked for this ping).
            LogRefusedAnswer(peer.Endpoint, ex.Message);
        }

        return false;
    }

    private async Task<bool> AskToPingAsync(NodeRecord helper, byte[] target, CancellationToken stopping)
    {
        try
        {
            Frame reply = await _transport!.SendAsync(helper.Endpoint, MessageType.PingRequest, target, IndirectProbeTimeout, stopping).ConfigureAwait(false);
            return reply.Type == MessageType.Ok && reply.Payload.Length == 1 && reply.Payload[0] == 1;
        }
        catch (PeerUnavailableException)
        {
            return false;
        }
    }

    /// <summary>A peer could not reach <paramref name="target"/> itself and asks this node to try.</summary>
    private async Task<(MessageType, byte[])> OnPingRequestAsync(NodeRecord target, CancellationToken cancellationToken)
    {
        bool reached = target.Id != SelfRecord!.Id && await TryPingAsync(target, Messages.EncodeNode(SelfRecord), IndirectPingTimeout, cancellationToken).ConfigureAwait(false);
        return (MessageType.Ok, [reached ? (byte)1 : (byte)0]);
    }

    /// <summary>
    /// A node that told this node itself that it stopped or left counts as not heard from: the
    /// slices it could not hand over are taken over at once, not a detection timeout after its
    /// goodbye (see <see cref="Placement.PlacementRound.Repairs"/>).
    /// </summary>
    private void ForgetIfSaidGoodbye(NodeId sender, IEnumerable<NodeRecord> records)
    {
        if (records.FirstOrDefault(r => r.Id == sender && !r.IsServing) is { } last && Nodes.Find(sender) is { IsServing: false })
        {
            SaidGoodbye(last);
        }
    }

    // Nodes that told this node themselves that they stopped, by the incarnation they stopped in.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<NodeId, long> _saidGoodbye = new();

    private void SaidGoodbye(NodeRecord last)
    {
        lock (_stateLock)
        {
            // Only the life the map holds (a late answer of an earlier life, or of a node the map did not take, is not news).
            if (Nodes.Find(last.Id) is not { IsServing: false } held || held.Incarnation != last.Incarnation)
            {
                return;
            }

            _saidGoodbye.AddOrUpdate(last.Id, last.Incarnation, (_, earlier) => Math.Max(earlier, last.Incarnation));
        }

        _detector?.Forget(last.Id);
    }

    /// <summary>Every detector tick: a race between a late message and a goodbye may have left it counted as heard; not for long.</summary>
    private void ForgetThoseWhoSaidGoodbye()
    {
        foreach ((NodeId id, long stoppedIn) in _saidGoodbye)
        {
            if (Nodes.Find(id) is not { IsServing: true } record || record.Incarnation <= stoppedIn)
            {
                _detector?.Forget(id);
            }
        }
    }

    /// <summary>
    /// Any message from a node is a sign of life, but for one that told this node itself that it
    /// stopped, until it is back in a newer incarnation: messages it sent before it stopped may
    /// arrive after its goodbye (over other connections), and would hold its slices back a
    /// detection timeout.
    /// </summary>
    private void NoteContact(NodeId id, long? incarnation = null)
    {
        if (_saidGoodbye.TryGetValue(id, out long stoppedIn))
        {
            // Any record newer than the goodbye is a new life (also one another node holds Down).
            long current = incarnation ?? Nodes.Find(id)?.Incarnation ?? long.MinValue;
            if (current <= stoppedIn)
            {
                return;
            }

            _saidGoodbye.TryRemove(KeyValuePair.Create(id, stoppedIn));
        }

        _detector?.Heard(id, MonoMs());
        if (_saidGoodbye.TryGetValue(id, out long saidMeanwhile) && (incarnation ?? Nodes.Find(id)?.Incarnation ?? long.MinValue) <= saidMeanwhile)
        {
            // A goodbye recorded on another thread between the check and the mark wins.
            _detector?.Forget(id);
        }
    }

    private TimeSpan ProbeTimeout => _options.FailureDetectionTimeout * 0.2;

    // The asker waits 40% of the timeout for a helper's answer; the helper gives its own ping 30%,
    // so a helper slowed by its machine still answers in time rather than report a miss.
    private TimeSpan IndirectProbeTimeout => _options.FailureDetectionTimeout * 0.4;

    private TimeSpan IndirectPingTimeout => _options.FailureDetectionTimeout * 0.3;
}
