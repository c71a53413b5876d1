namespace SmdSs.Transport;

/// <summary>A peer could not be reached, refused us, or did not answer in time.</summary>
internal sealed class PeerUnavailableException(string endpoint, string reason, Exception? inner = null)
    : Exception($"Peer {endpoint} unavailable: {reason}", inner)
{
    public string Endpoint { get; } = endpoint;

    public string Reason { get; } = reason;

    /// <summary>The peer answered but the handshake failed (a wrong cluster secret, a duplicate node id): a configuration error, not an outage.</summary>
    public bool IsRefusal => InnerException is Protocol.ProtocolException;
}
