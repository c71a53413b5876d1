using SmdSs.Model;

namespace SmdSs.Transport;

/// <summary>
/// The connections a node's listener serves, to bound them: connections still in their
/// handshake (in all and per remote address, so that nobody without the secret can take every
/// place), authenticated connections in all and per peer node, and which endpoint each node id
/// speaks from (one node id is one node: a second live connection claiming it from another
/// endpoint is refused). Thread-safe; no sockets here.
/// </summary>
internal sealed class InboundConnections(int maxHandshaking, int maxHandshakingPerAddress, int maxAuthenticated, int maxPerNode)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _handshakingByAddress = new(StringComparer.Ordinal);
    private readonly Dictionary<NodeId, (string Endpoint, int Count)> _byNode = [];
    private int _handshaking;
    private int _authenticated;

    /// <summary>Takes a place for a connection from <paramref name="address"/> to handshake in; the reason it is refused, or null.</summary>
    public string? TryBeginHandshake(string address)
    {
        lock (_lock)
        {
            int fromAddress = _handshakingByAddress.GetValueOrDefault(address);
            if (_handshaking >= maxHandshaking)
            {
                return $"{maxHandshaking} connections are in their handshake, the most this node serves";
            }

            if (fromAddress >= maxHandshakingPerAddress)
            {
                return $"{maxHandshakingPerAddress} connections from {address} are in their handshake, the most one address may have";
            }

            _handshaking++;
            _handshakingByAddress[address] = fromAddress + 1;
            return null;
        }
    }

    public void EndHandshake(string address)
    {
        lock (_lock)
        {
            _handshaking--;
            int left = _handshakingByAddress.GetValueOrDefault(address) - 1;
            if (left <= 0)
            {
                _handshakingByAddress.Remove(address);
            }
            else
            {
                _handshakingByAddress[address] = left;
            }
        }
    }

    /// <summary>Binds an authenticated connection to its node id; the reason it is refused, or null.</summary>
    public string? TryClaim(NodeId node, string endpoint)
    {
        lock (_lock)
        {
            if (_authenticated >= maxAuthenticated)
            {
                return $"{maxAuthenticated} peer connections are open, the most this node serves";
            }

            if (!_byNode.TryGetValue(node, out (string Endpoint, int Count) held))
            {
                _byNode[node] = (endpoint, 1);
                _authenticated++;
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
            _authenticated++;
            return null;
        }
    }

    public void Release(NodeId node)
    {
        lock (_lock)
        {
            if (!_byNode.TryGetValue(node, out (string Endpoint, int Count) held))
            {
                return;
            }

            _authenticated--;
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
