using System.Collections.Concurrent;

namespace SmdSs.Membership;

/// <summary>
/// Timeout-based failure detection over direct contact: any message from a node counts as a
/// sign of life. Silent past <see cref="SuspectAfter"/> → Suspect; past <see cref="DownAfter"/>
/// → Down. A wrongly suspected node refutes by announcing a higher incarnation. Pure but for
/// the table of last contacts; the caller passes the time.
/// </summary>
internal sealed class FailureDetector(TimeSpan suspectAfter, TimeSpan downAfter)
{
    private readonly ConcurrentDictionary<NodeId, long> _lastHeardMs = new();

    public TimeSpan SuspectAfter { get; } = suspectAfter;

    public TimeSpan DownAfter { get; } = downAfter;

    public void Heard(NodeId node, long nowMs) => _lastHeardMs[node] = nowMs;

    public bool HeardSince(NodeId node, long sinceMs) => _lastHeardMs.TryGetValue(node, out long heard) && heard >= sinceMs;

    public void Forget(NodeId node) => _lastHeardMs.TryRemove(node, out _);

    /// <summary>The records to publish for nodes whose silence crossed a threshold.</summary>
    public IEnumerable<NodeRecord> Evaluate(NodeMap map, NodeId self, long nowMs)
    {
        foreach (NodeRecord node in map.Nodes)
        {
            if (node.Id == self || node.State is not (NodeState.Up or NodeState.Joining or NodeState.Suspect or NodeState.Leaving))
            {
                continue;
            }

            // A node first seen now gets a full timeout before it can be suspected.
            long last = _lastHeardMs.GetOrAdd(node.Id, nowMs);
            long silentMs = nowMs - last;
            if (silentMs >= DownAfter.TotalMilliseconds)
            {
                yield return node with { State = NodeState.Down };
            }
            else if (silentMs >= SuspectAfter.TotalMilliseconds && node.State != NodeState.Suspect && node.State != NodeState.Leaving)
            {
                yield return node with { State = NodeState.Suspect };
            }
        }
    }
}
