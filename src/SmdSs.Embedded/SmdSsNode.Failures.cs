using SmdSs.Membership;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Failure detection: every half second each reachable peer is pinged; any message from a
/// peer counts as a sign of life. A node silent for 40% of FailureDetectionTimeout becomes
/// Suspect, for all of it Down, in this node's map, and gossip spreads the verdict; the node
/// itself refutes a wrong one with a higher incarnation.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan PingInterval = TimeSpan.FromMilliseconds(500);

    private async Task FailureDetectionLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(PingInterval, _time);
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            byte[] ping = Messages.EncodeNode(_self!);
            List<NodeRecord> peers = [.. Peers().Where(n => n.IsReachable)];
            await Task.WhenAll(peers.Select(peer => PingAsync(peer, ping, stopping))).ConfigureAwait(false);
            List<NodeRecord> verdicts = [.. _detector!.Evaluate(Nodes, _self!.Id, MonoMs())];
            if (verdicts.Count > 0)
            {
                MergeNodes(verdicts);
            }
        }
    }

    private async Task PingAsync(NodeRecord peer, byte[] ping, CancellationToken stopping)
    {
        try
        {
            Frame pong = await _transport!.SendAsync(peer.Endpoint, MessageType.Ping, ping, _options.FailureDetectionTimeout * 0.4, stopping).ConfigureAwait(false);
            if (pong.Type == MessageType.Ok && pong.Payload.Length > 0)
            {
                NodeRecord record = Messages.DecodeNode(pong.Payload);
                if (record.Id == peer.Id)
                {
                    _detector!.Heard(peer.Id, MonoMs());
                    MergeNodes([record]);
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
    }
}
