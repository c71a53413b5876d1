namespace SmdSs.Protocol;

/// <summary>A peer sent bytes that break the protocol: the connection is closed with this reason.</summary>
internal sealed class ProtocolException(string message) : Exception(message);
