using SmdSs.Protocol;

namespace SmdSs.Transport;

/// <summary>
/// The network as the node sees it: send a request to an endpoint, get its response. The seam
/// where tests inject faults (drop, delay, partition).
/// </summary>
internal interface IPeerTransport : IAsyncDisposable
{
    /// <exception cref="PeerUnavailableException">Not reachable, refused, or no answer within <paramref name="timeout"/>.</exception>
    Task<Frame> SendAsync(string endpoint, MessageType type, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Closes pooled connections to <paramref name="endpoint"/> (it said goodbye, or failed).</summary>
    void Forget(string endpoint);

    /// <summary>Closes the pools of endpoints that <paramref name="isListed"/> no longer names and nobody used for a minute.</summary>
    void ForgetUnlisted(Func<string, bool> isListed)
    {
    }
}
