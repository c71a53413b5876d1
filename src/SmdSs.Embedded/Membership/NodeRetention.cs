using SmdSs.Model;

namespace SmdSs.Membership;

/// <summary>
/// When the node map forgets a node: gone (Down or Left) for longer than the retention by the
/// time stamped in its record, and named by no slice record (a replica list must resolve). The
/// time travels with the record, so every node forgets at about the same moment and a stale
/// copy that comes back from a node that was away is itself expired: it is not taken again.
/// Pure: the wall-clock time is an argument.
/// </summary>
internal static class NodeRetention
{
    public static bool IsExpired(NodeRecord record, long wallNowMs, TimeSpan retention) =>
        record.State is NodeState.Down or NodeState.Left
        && record.GoneSinceMs > 0
        && wallNowMs - record.GoneSinceMs >= (long)retention.TotalMilliseconds;

    /// <summary>The nodes of <paramref name="nodes"/> to forget now (never <paramref name="self"/>).</summary>
    public static List<NodeId> Expired(NodeMap nodes, NodeId self, IReadOnlySet<NodeId> referenced, long wallNowMs, TimeSpan retention) =>
        [.. nodes.Nodes.Where(n => n.Id != self && !referenced.Contains(n.Id) && IsExpired(n, wallNowMs, retention)).Select(n => n.Id)];

    /// <summary>
    /// The records of a map saved <paramref name="savedAtMs"/> that a restarting node may keep,
    /// and the endpoints it should ask for the maps besides its friends, until <paramref name="contactsUntilMs"/>.
    /// Back after longer than the retention, it knows nothing it may pass on about others (they
    /// may have been forgotten since, and its copy would bring them back): it keeps only their
    /// endpoints to ask, for one retention. Otherwise it drops what has expired and keeps the
    /// contacts it had saved, until the time saved with them.
    /// </summary>
    public static NodeMap Restored(
        NodeMap saved, NodeId self, long savedAtMs, IReadOnlyList<string> savedContacts, long savedContactsUntilMs, IReadOnlySet<NodeId> named,
        long wallNowMs, TimeSpan retention, out List<string> contacts, out long contactsUntilMs)
    {
        if (wallNowMs - savedAtMs >= (long)retention.TotalMilliseconds)
        {
            contacts = [.. savedContacts.Concat(saved.Nodes.Where(n => n.Id != self && n.State != NodeState.Left).Select(n => n.Endpoint)).Distinct(StringComparer.OrdinalIgnoreCase)];
            contactsUntilMs = wallNowMs + (long)retention.TotalMilliseconds;
            return NodeMap.Empty;
        }

        contacts = wallNowMs < savedContactsUntilMs ? [.. savedContacts] : [];
        contactsUntilMs = savedContactsUntilMs;
        return saved.Without([.. saved.Nodes.Where(n => n.Id != self && !named.Contains(n.Id) && IsExpired(n, wallNowMs, retention)).Select(n => n.Id)]);
    }

    /// <summary>
    /// Room for <paramref name="newNodes"/> more nodes in a map that may hold <paramref name="maxNodes"/>:
    /// gone nodes no slice names are given up first, earliest gone first (<paramref name="evict"/>);
    /// the result is how many of the new ones fit.
    /// </summary>
    public static int MakeRoom(NodeMap map, NodeId self, IReadOnlySet<NodeId> named, int newNodes, int maxNodes, out List<NodeId> evict)
    {
        int over = map.Count + newNodes - maxNodes;
        evict = over <= 0 ? [] : [.. map.Nodes
            .Where(n => n.Id != self && n.State is (NodeState.Down or NodeState.Left) && !named.Contains(n.Id))
            .OrderBy(n => n.GoneSinceMs).ThenBy(n => n.Id)
            .Take(over)
            .Select(n => n.Id)];
        return Math.Max(0, Math.Min(newNodes, maxNodes - (map.Count - evict.Count)));
    }
}
