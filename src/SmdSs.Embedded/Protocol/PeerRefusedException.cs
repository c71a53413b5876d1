namespace SmdSs.Protocol;

/// <summary>
/// An authenticated peer claimed what it may not (an epoch, incarnation or version out of
/// bounds, slice data without the authority to send it): the request is refused, the reason
/// logged and the connection closed. Nothing of the message was applied.
/// </summary>
internal sealed class PeerRefusedException(string message) : Exception(message);
