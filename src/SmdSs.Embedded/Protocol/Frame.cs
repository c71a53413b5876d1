namespace SmdSs.Protocol;

/// <summary>One decoded frame: its type, request id and payload (owned by the frame).</summary>
internal readonly record struct Frame(MessageType Type, ulong RequestId, byte[] Payload);
