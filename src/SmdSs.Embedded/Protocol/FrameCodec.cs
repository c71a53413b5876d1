using System.Buffers;
using System.Buffers.Binary;

namespace SmdSs.Protocol;

/// <summary>
/// Length-prefixed frames, read incrementally from any buffer (a pipe, a byte array) and
/// written to any buffer writer. No sockets here.
/// </summary>
/// <remarks>
/// FORMAT (v2), little-endian, one frame (the handshake's, and every frame of a cluster without
/// a secret; a cluster with a secret seals every frame after the handshake, see <see cref="FrameSealer"/>):
/// <code>
///   offset size  field
///   0      4     length (u32): bytes that follow this field (10 + payload)
///   4      1     protocol version (2); anything else closes the connection
///   5      1     message type (<see cref="MessageType"/>)
///   6      8     request id (u64); a response carries its request's id, so requests pipeline
///                and multiplex over one connection and answers may come back in any order
///   14     n     payload (per message type, see <see cref="MessageWriter"/>)
/// </code>
/// A length over the maximum frame size, or under 10, closes the connection before the body is read.
/// </remarks>
internal static class FrameCodec
{
    public const byte ProtocolVersion = 2;
    public const int PrefixBytes = 4;
    public const int HeaderBytes = 10;

    /// <summary>Takes one whole frame off the front of <paramref name="buffer"/>; false when more bytes are needed.</summary>
    /// <exception cref="ProtocolException">A bad length, an unknown protocol version.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, out Frame frame)
    {
        frame = default;
        if (buffer.Length < PrefixBytes)
        {
            return false;
        }

        Span<byte> prefix = stackalloc byte[PrefixBytes + HeaderBytes];
        int available = (int)Math.Min(buffer.Length, prefix.Length);
        buffer.Slice(0, available).CopyTo(prefix);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (length < HeaderBytes || length > (uint)maxFrameBytes)
        {
            throw new ProtocolException($"frame length {length} outside 10..{maxFrameBytes}");
        }

        if (available >= PrefixBytes + 1)
        {
            CheckVersion(prefix[PrefixBytes]);
        }

        if (buffer.Length < PrefixBytes + length)
        {
            return false;
        }

        var type = (MessageType)prefix[PrefixBytes + 1];
        ulong requestId = BinaryPrimitives.ReadUInt64LittleEndian(prefix[(PrefixBytes + 2)..]);
        byte[] payload = buffer.Slice(PrefixBytes + HeaderBytes, length - HeaderBytes).ToArray();
        buffer = buffer.Slice(PrefixBytes + length);
        frame = new Frame(type, requestId, payload);
        return true;
    }

    /// <summary>Decodes a frame after its length field (version, type, request id, payload).</summary>
    /// <exception cref="ProtocolException">Under 10 bytes, or an unknown protocol version.</exception>
    public static Frame ReadBody(ReadOnlySpan<byte> body)
    {
        if (body.Length < HeaderBytes)
        {
            throw new ProtocolException($"frame of {body.Length} bytes is shorter than its header");
        }

        CheckVersion(body[0]);
        return new Frame((MessageType)body[1], BinaryPrimitives.ReadUInt64LittleEndian(body[2..]), body[HeaderBytes..].ToArray());
    }

    public static void Write(IBufferWriter<byte> output, MessageType type, ulong requestId, ReadOnlySpan<byte> payload)
    {
        int total = PrefixBytes + HeaderBytes + payload.Length;
        Span<byte> span = output.GetSpan(total);
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)(HeaderBytes + payload.Length));
        WriteHeader(span[PrefixBytes..], type, requestId);
        payload.CopyTo(span[(PrefixBytes + HeaderBytes)..]);
        output.Advance(total);
    }

    /// <summary>Writes version, type and request id (the <see cref="HeaderBytes"/> after the length field).</summary>
    public static void WriteHeader(Span<byte> span, MessageType type, ulong requestId)
    {
        span[0] = ProtocolVersion;
        span[1] = (byte)type;
        BinaryPrimitives.WriteUInt64LittleEndian(span[2..], requestId);
    }

    private static void CheckVersion(byte version)
    {
        if (version == 1)
        {
            throw new ProtocolException("protocol version 1, from a node of a release before sealed frames: upgrade every node of the farm (see docs/SECURITY.md)");
        }

        if (version != ProtocolVersion)
        {
            throw new ProtocolException($"unknown protocol version {version}");
        }
    }

    public static byte[] Encode(MessageType type, ulong requestId, ReadOnlySpan<byte> payload)
    {
        var writer = new ArrayBufferWriter<byte>(PrefixBytes + HeaderBytes + payload.Length);
        Write(writer, type, requestId, payload);
        return writer.WrittenSpan.ToArray();
    }
}
