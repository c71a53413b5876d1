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

            _goodbyes!.Tend(Nodes);

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

                if (record.Id == peer.Id && !_goodbyes!.IsOfEndedLife(record))
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

    /// <summary>A node that told this node itself that it stopped or left counts as not heard from (see <see cref="Membership.Goodbyes"/>).</summary>
    private void ForgetIfSaidGoodbye(NodeId sender, IEnumerable<NodeRecord> records)
    {
        if (records.FirstOrDefault(r => r.Id == sender && !r.IsServing) is { } last)
        {
            SaidGoodbye(last);
        }
    }

    // Recreated with the failure detector at each start.
    private Membership.Goodbyes? _goodbyes;

    private void SaidGoodbye(NodeRecord last)
    {
        lock (_stateLock)
        {
            _goodbyes?.Said(last, Nodes);
        }
    }

    /// <summary>Any message from a node is a sign of life, but for one that said goodbye (see <see cref="Membership.Goodbyes"/>).</summary>
    private void NoteContact(NodeId id, long? incarnation = null) => _goodbyes?.Heard(id, incarnation, Nodes, MonoMs());

    private TimeSpan ProbeTimeout => _options.FailureDetectionTimeout * 0.2;

    // The asker waits 40% of the timeout for a helper's answer; the helper gives its own ping 30%,
    // so a helper slowed by its machine still answers in time rather than report a miss.
    private TimeSpan IndirectProbeTimeout => _options.FailureDetectionTimeout * 0.4;

    private TimeSpan IndirectPingTimeout => _options.FailureDetectionTimeout * 0.3;
}
