namespace SmdSs.Protocol;

/// <summary>Why a request failed, as the Error response carries it.</summary>
internal enum ErrorCode : byte
{
    Internal = 1,
    BadRequest = 2,
    NotPrimary = 3,
    StaleEpoch = 4,
    Unavailable = 5,
    Refused = 6,

    // The operation does not fit the key's value (not a counter, overflow): InvalidOperationException.
    Conflict = 7,

    // An entry processor or map function is unknown, threw, or broke a limit: SmdSsProcessorException.
    ProcessorFailed = 8,
}

/// <summary>The payload of an Error frame: <c>u8 code | string message</c>.</summary>
internal readonly record struct ErrorReply(ErrorCode Code, string Message)
{
    public byte[] Encode() => new MessageWriter().U8((byte)Code).String(Message.Length > 1000 ? Message[..1000] : Message).ToArray();

    public static ErrorReply Read(byte[] payload)
    {
        try
        {
            var reader = new MessageReader(payload);
            return new ErrorReply((ErrorCode)reader.U8(), reader.String());
        }
        catch (ProtocolException)
        {
            return new ErrorReply(ErrorCode.Internal, "malformed error reply");
        }
    }
}
