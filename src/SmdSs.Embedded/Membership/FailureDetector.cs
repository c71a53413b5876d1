using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using SmdSs.Model;

namespace SmdSs.Membership;

/// <summary>
/// Timeout-based failure detection over direct contact: any message from a node counts as a
/// sign of life. A node silent past <see cref="SuspectAfter"/> whose last probe round (direct
/// and indirect) failed → Suspect; silent past <see cref="DownAfter"/> → Down, probes or not.
/// Suspicion waits for a failed round, as in SWIM, so that a slow but successful indirect probe
/// on a busy machine does not make a reachable node Suspect (which costs it its commit vote).
/// A wrongly suspected node refutes by announcing a higher incarnation. Pure but for the tables
/// of last contacts and failed probes; the caller passes the time.
/// </summary>
internal sealed class FailureDetector(TimeSpan suspectAfter, TimeSpan downAfter)
{
    // A box per node, so that a message from a known node (every frame received) updates its time
    // without the dictionary's bucket lock, which every connection's reader thread would contend for.
    private readonly ConcurrentDictionary<NodeId, StrongBox<long>> _lastHeardMs = new();
    private readonly ConcurrentDictionary<NodeId, long> _lastProbeFailedMs = new();

    public TimeSpan SuspectAfter { get; } = suspectAfter;

    public TimeSpan DownAfter { get; } = downAfter;

    public void Heard(NodeId node, long nowMs)
    {
        if (_lastHeardMs.TryGetValue(node, out StrongBox<long>? last))
        {
            Volatile.Write(ref last.Value, nowMs);
        }
        else
        {
            _lastHeardMs[node] = new StrongBox<long>(nowMs);
        }
    }

    /// <summary>A whole probe round (the direct ping and every indirect one) got no answer.</summary>
    public void ProbeFailed(NodeId node, long nowMs) => _lastProbeFailedMs[node] = nowMs;

    public bool HeardSince(NodeId node, long sinceMs) => LastHeardMs(node) >= sinceMs;

    /// <summary>When this node last heard from <paramref name="node"/>; null if never (or forgotten).</summary>
    public long? LastHeardMs(NodeId node) => _lastHeardMs.TryGetValue(node, out StrongBox<long>? heard) ? Volatile.Read(ref heard.Value) : null;

    public void Forget(NodeId node)
    {
        _lastHeardMs.TryRemove(node, out _);
        _lastProbeFailedMs.TryRemove(node, out _);
    }

    /// <summary>The records to publish for nodes whose silence crossed a threshold (a Down one stamped with <paramref name="wallNowMs"/>).</summary>
    public IEnumerable<NodeRecord> Evaluate(NodeMap map, NodeId self, long nowMs, long wallNowMs)
    {
        foreach (NodeRecord node in map.Nodes)
        {
            if (node.Id == self || node.State is not (NodeState.Up or NodeState.Joining or NodeState.Suspect or NodeState.Leaving))
            {
                continue;
            }

            // A node first seen now gets a full timeout before it can be suspected.
            long last = Volatile.Read(ref _lastHeardMs.GetOrAdd(node.Id, static (_, now) => new StrongBox<long>(now), nowMs).Value);
            long silentMs = nowMs - last;
            if (silentMs >= DownAfter.TotalMilliseconds)
            {
                yield return node.InState(NodeState.Down, wallNowMs);
            }
            else if (silentMs >= SuspectAfter.TotalMilliseconds && ProbeFailedSince(node.Id, last)
                && node.State != NodeState.Suspect && node.State != NodeState.Leaving)
            {
                yield return node.InState(NodeState.Suspect, wallNowMs);
            }
        }
    }

    private bool ProbeFailedSince(NodeId node, long sinceMs) => _lastProbeFailedMs.TryGetValue(node, out long failed) && failed >= sinceMs;
}
