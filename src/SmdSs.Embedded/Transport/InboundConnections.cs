using SmdSs.Membership;

namespace SmdSs.Transport;

/// <summary>
/// The connections a node's listener serves, to bound them: how many in all, how many per peer
/// node, and which endpoint each node id speaks from (one node id is one node: a second live
/// connection claiming it from another endpoint is refused). Thread-safe; no sockets here.
/// </summary>
internal sealed class InboundConnections(int maxConnections, int maxPerNode)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<NodeId, (string Endpoint, int Count)> _byNode = [];
    private int _open;

    /// <summary>Takes a place for a new connection; false when <c>maxConnections</c> are open.</summary>
    public bool TryOpen()
    {
        lock (_lock)
        {
            if (_open >= maxConnections)
            {
                return false;
            }

            _open++;
            return true;
        }
    }

    public void Close()
    {
        lock (_lock)
        {
            _open--;
        }
    }

    /// <summary>Binds an authenticated connection to its node id; the reason it is refused, or null.</summary>
    public string? TryClaim(NodeId node, string endpoint)
    {
        lock (_lock)
        {
            if (!_byNode.TryGetValue(node, out (string Endpoint, int Count) held))
            {
                _byNode[node] = (endpoint, 1);
                return null;
            }

            if (!string.Equals(held.Endpoint, endpoint, StringComparison.OrdinalIgnoreCase))
            {
                return $"node {node} is already connected from {held.Endpoint}; this connection claims {endpoint}";
            }

            if (held.Count >= maxPerNode)
            {
                return $"node {node} already has {maxPerNode} connections open (the most one peer may)";
            }

            _byNode[node] = (held.Endpoint, held.Count + 1);
            return null;
        }
    }

    public void Release(NodeId node)
    {
        lock (_lock)
        {
            if (_byNode.TryGetValue(node, out (string Endpoint, int Count) held))
            {
                if (held.Count <= 1)
                {
                    _byNode.Remove(node);
                }
                else
                {
                    _byNode[node] = (held.Endpoint, held.Count - 1);
                }
            }
        }
    }
}
