using System.Collections.Concurrent;
using SmdSs.Model;

namespace SmdSs.Membership;

/// <summary>
/// Nodes that told this node themselves that they stopped or left (a goodbye broadcast, or a ping
/// answered with their own stopped record), by the incarnation they stopped in. Such a node counts
/// as not heard from, so that its slices are taken over at once, not a detection timeout after
/// its goodbye (see <see cref="Placement.PlacementRound.Repairs"/>), and stays so until it is back
/// in a newer incarnation: messages it sent before it stopped may arrive after its goodbye (over
/// other connections). Thread-safe and lock-free, like the <see cref="FailureDetector"/> it feeds:
/// every frame received reports its sender here.
/// </summary>
internal sealed class Goodbyes(FailureDetector detector)
{
    // TryGetValue reads it without a lock (IsEmpty would take every one).
    private readonly ConcurrentDictionary<NodeId, long> _stoppedIn = new();

    /// <summary>
    /// <paramref name="last"/>, a node's own record that says it is no longer serving, came from
    /// that node itself. Taken only for the life <paramref name="nodes"/> holds (merged first): a
    /// late answer of an earlier life, or of a node the map did not take, is not news.
    /// </summary>
    public void Said(NodeRecord last, NodeMap nodes)
    {
        if (last.IsServing || nodes.Find(last.Id) is not { IsServing: false } held || held.Incarnation != last.Incarnation)
        {
            return;
        }

        _stoppedIn.AddOrUpdate(last.Id, last.Incarnation, (_, earlier) => Math.Max(earlier, last.Incarnation));
        detector.Forget(last.Id);
    }

    /// <summary>
    /// A message from <paramref name="id"/> arrived at <paramref name="nowMs"/>: heard from, unless
    /// that node said goodbye in <paramref name="incarnation"/> (the one the message carries; when
    /// null, the one <paramref name="nodes"/> holds) or a later one.
    /// </summary>
    public void Heard(NodeId id, long? incarnation, NodeMap nodes, long nowMs)
    {
        if (_stoppedIn.TryGetValue(id, out long stoppedIn))
        {
            // Any record newer than the goodbye is a new life (also one another node holds Down).
            if ((incarnation ?? nodes.Find(id)?.Incarnation ?? long.MinValue) <= stoppedIn)
            {
                return;
            }

            _stoppedIn.TryRemove(KeyValuePair.Create(id, stoppedIn));
        }

        detector.Heard(id, nowMs);
        if (_stoppedIn.TryGetValue(id, out long saidMeanwhile) && (incarnation ?? nodes.Find(id)?.Incarnation ?? long.MinValue) <= saidMeanwhile)
        {
            // A goodbye recorded on another thread between the check and the mark wins.
            detector.Forget(id);
        }
    }

    /// <summary>Whether <paramref name="record"/> is of a life of its node that already said goodbye.</summary>
    public bool IsOfEndedLife(NodeRecord record) => _stoppedIn.TryGetValue(record.Id, out long stoppedIn) && record.Incarnation <= stoppedIn;

    /// <summary>
    /// Every detector tick: a race between a late message and a goodbye may have left a node that
    /// said goodbye counted as heard from; not for long.
    /// </summary>
    public void Tend(NodeMap nodes)
    {
        foreach ((NodeId id, long stoppedIn) in _stoppedIn)
        {
            if (nodes.Find(id) is not { IsServing: true } record || record.Incarnation <= stoppedIn)
            {
                detector.Forget(id);
            }
        }
    }

    /// <summary>The node is forgotten (gone past the retention).</summary>
    public void Forget(NodeId id) => _stoppedIn.TryRemove(id, out _);
}
