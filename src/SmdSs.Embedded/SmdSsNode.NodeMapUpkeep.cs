using SmdSs.Diagnostics;
using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs;

/// <summary>
/// Keeps the node map bounded: nodes gone longer than NodeRetention are forgotten, a stale copy
/// of one is not taken back, the map never holds more than MaxNodes, and the saved state says
/// when the node was last up (so that a restart knows whether its saved map is too old to pass on).
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan NodeCapWarningInterval = TimeSpan.FromMinutes(1);

    // Endpoints a node back from longer than NodeRetention remembered, asked like friends until
    // each is in the map or answered, or until _contactsUntilMs (a retention after they were
    // made: the peers they named are forgotten by then); saved with the maps.
    private IReadOnlyList<string> _contacts = [];
    private long _contactsUntilMs;
    private long _savedAtMs;
    private long _nodeCapWarnedMs = long.MinValue / 2;

    /// <summary>The records of <paramref name="records"/> this map takes; called under the state lock.</summary>
    private List<NodeRecord> AdmissibleNodes(IReadOnlyCollection<NodeRecord> records)
    {
        long now = NowMs();
        HashSet<NodeId>? named = null;
        var admissible = new List<NodeRecord>(records.Count);
        var fresh = new HashSet<NodeId>();
        foreach (NodeRecord record in records)
        {
            if (record.Id == _self!.Id)
            {
                continue;
            }

            bool held = _nodes.Find(record.Id) is not null;
            // A stale copy of a node this map forgot (from a peer that was away) is not taken again.
            if (!held && NodeRetention.IsExpired(record, now, _options.NodeRetention) && !(named ??= SliceMap!.NamedNodes()).Contains(record.Id))
            {
                continue;
            }

            if (!held)
            {
                fresh.Add(record.Id);
            }

            admissible.Add(record);
        }

        if (_nodes.Count + fresh.Count <= SmdSsLimits.MaxNodes)
        {
            return admissible;
        }

        // Neither a node a slice names nor one this message brings news of is given up.
        var keep = new HashSet<NodeId>(named ?? SliceMap!.NamedNodes());
        keep.UnionWith(records.Select(r => r.Id));
        int room = NodeRetention.MakeRoom(_nodes, _self!.Id, keep, fresh.Count, SmdSsLimits.MaxNodes, out List<NodeId> evict);
        foreach (NodeId id in evict)
        {
            ForgetSideState(id);
            Log.NodeForgotten(_logger, id.ToString(), _nodes.Find(id)!.Endpoint, _nodes.Find(id)!.State.ToString(), DateTimeOffset.FromUnixTimeMilliseconds(_nodes.Find(id)!.GoneSinceMs));
        }

        _nodes = _nodes.Without(evict);
        HashSet<NodeId> admitted = [.. fresh.Take(room)];
        if (MonoMs() - _nodeCapWarnedMs >= NodeCapWarningInterval.TotalMilliseconds)
        {
            _nodeCapWarnedMs = MonoMs();
            Log.NodeMapFull(_logger, SmdSsLimits.MaxNodes, evict.Count, fresh.Count - room);
        }

        return [.. admissible.Where(r => _nodes.Find(r.Id) is not null || admitted.Contains(r.Id))];
    }

    /// <summary>
    /// Every failure-detection tick: forgets the nodes gone longer than NodeRetention that no slice
    /// record names, drops contacts that did their job, and re-saves the state when its time of
    /// saving is a quarter of the retention old.
    /// </summary>
    private void TendNodeMap()
    {
        long now = NowMs();
        IReadOnlyList<string> contacts = Volatile.Read(ref _contacts);
        bool anyExpired = Nodes.Nodes.Any(n => NodeRetention.IsExpired(n, now, _options.NodeRetention));
        bool contactsDone = contacts.Count > 0 && (now >= _contactsUntilMs || contacts.Any(IsNodeEndpoint));
        bool saveIsOld = now - Volatile.Read(ref _savedAtMs) >= (long)(_options.NodeRetention.TotalMilliseconds / 4);
        if (!anyExpired && !contactsDone && !saveIsOld)
        {
            return;
        }

        List<NodeRecord> forgotten = [];
        lock (_stateLock)
        {
            // A node a slice still names stays: it is expired but not forgotten, and no reason to save.
            List<NodeId> expired = anyExpired ? NodeRetention.Expired(_nodes, _self!.Id, SliceMap!.NamedNodes(), now, _options.NodeRetention) : [];
            if (expired.Count == 0 && !contactsDone && !saveIsOld)
            {
                return;
            }

            forgotten = [.. expired.Select(id => _nodes.Find(id)!)];
            foreach (NodeId id in expired)
            {
                ForgetSideState(id);
            }

            _nodes = _nodes.Without(expired);
            if (contactsDone)
            {
                _contacts = now >= _contactsUntilMs ? [] : [.. _contacts.Where(c => !IsNodeEndpoint(c))];
            }

            PersistState();
        }

        foreach (NodeRecord node in forgotten)
        {
            // Its endpoint may belong to a node serving now (a replacement on the same address).
            if (!Nodes.Nodes.Any(n => n.IsReachable && string.Equals(n.Endpoint, node.Endpoint, StringComparison.OrdinalIgnoreCase)))
            {
                _transport!.Forget(node.Endpoint);
            }

            Log.NodeForgotten(_logger, node.Id.ToString(), node.Endpoint, node.State.ToString(), DateTimeOffset.FromUnixTimeMilliseconds(node.GoneSinceMs));
        }
    }

    /// <summary>A peer at <paramref name="endpoint"/> answered a map exchange: it is no contact any more.</summary>
    private void DropContact(string endpoint)
    {
        if (!Volatile.Read(ref _contacts).Contains(endpoint, StringComparer.OrdinalIgnoreCase))
        {
            return;
        }

        lock (_stateLock)
        {
            _contacts = [.. _contacts.Where(c => !string.Equals(c, endpoint, StringComparison.OrdinalIgnoreCase))];
            PersistState();
        }
    }

    private bool IsNodeEndpoint(string endpoint) =>
        Nodes.Nodes.Any(n => n.Id != _self!.Id && string.Equals(n.Endpoint, endpoint, StringComparison.OrdinalIgnoreCase));

    private void ForgetSideState(NodeId id)
    {
        _detector?.Forget(id);
        _probes.TryRemove(id, out _);
    }
}
