using SmdSs.Protocol;

namespace SmdSs.Transport;

/// <summary>Answers one request frame from an authenticated peer.</summary>
internal interface IFrameHandler
{
    /// <summary>The response's type and payload. Throwing closes nothing: the peer gets an Error response.</summary>
    ValueTask<(MessageType Type, byte[] Payload)> HandleAsync(Frame request, PeerIdentity from, CancellationToken cancellationToken);
}
