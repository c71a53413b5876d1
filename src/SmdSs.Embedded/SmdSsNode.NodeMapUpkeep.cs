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

    /// <summary>A merge that reached MaxNodes: the nodes it gave up are logged and their connections closed, and the cap is said once a minute.</summary>
    private void ReportNodeMapFull(Core.MembershipChange change)
    {
        foreach (NodeRecord evicted in change.Evicted)
        {
            ForgetConnectionsOf(evicted);
            Log.NodeForgotten(_logger, evicted.Id.ToString(), evicted.Endpoint, evicted.State.ToString(), DateTimeOffset.FromUnixTimeMilliseconds(evicted.GoneSinceMs));
        }

        long now = MonoMs();
        if (change.CapReached && now - Interlocked.Read(ref _nodeCapWarnedMs) >= NodeCapWarningInterval.TotalMilliseconds)
        {
            Interlocked.Exchange(ref _nodeCapWarnedMs, now);
            Log.NodeMapFull(_logger, SmdSsLimits.MaxNodes, change.Evicted.Count, change.LeftOut);
        }
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
        bool anyExpired = _membership!.AnyExpired(now);
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
            forgotten = anyExpired ? _membership.ForgetExpired(SliceMap!, now) : [];
            if (forgotten.Count == 0 && !contactsDone && !saveIsOld)
            {
                return;
            }

            foreach (NodeRecord node in forgotten)
            {
                ForgetSideState(node.Id);
            }

            if (contactsDone)
            {
                _contacts = now >= _contactsUntilMs ? [] : [.. _contacts.Where(c => !IsNodeEndpoint(c))];
            }

            PersistState();
        }

        foreach (NodeRecord node in forgotten)
        {
            ForgetConnectionsOf(node);
            Log.NodeForgotten(_logger, node.Id.ToString(), node.Endpoint, node.State.ToString(), DateTimeOffset.FromUnixTimeMilliseconds(node.GoneSinceMs));
        }
    }

    // Its endpoint may belong to a node serving now (a replacement on the same address).
    private void ForgetConnectionsOf(NodeRecord node)
    {
        if (!Nodes.Nodes.Any(n => n.IsReachable && string.Equals(n.Endpoint, node.Endpoint, StringComparison.OrdinalIgnoreCase)))
        {
            _transport?.Forget(node.Endpoint);
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
        Nodes.Nodes.Any(n => n.Id != SelfRecord!.Id && string.Equals(n.Endpoint, endpoint, StringComparison.OrdinalIgnoreCase));

    private void ForgetSideState(NodeId id)
    {
        _detector?.Forget(id);
        _probes.TryRemove(id, out _);
        lock (_contactLock)
        {
            _contact?.Forget(id);
        }

        _goodbyes?.Forget(id);
    }
}
