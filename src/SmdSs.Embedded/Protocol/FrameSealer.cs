using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace SmdSs.Protocol;

/// <summary>
/// One direction of a sealed connection: AES-GCM under a key of its own, with a sequence number
/// that is never sent but counted by both ends, so a frame modified, replayed, reordered, dropped
/// or injected fails authentication. Not thread-safe: one writer (under the pipe's write lock) or
/// one reader loop.
/// </summary>
/// <remarks>
/// FORMAT of a sealed frame:
/// <code>
///   offset size  field
///   0      4     length (u32): bytes that follow (n + 16); authenticated as associated data
///   4      n     the frame after its length field (version, type, request id, payload), encrypted
///   4+n    16    AES-GCM tag
///   nonce = 4 zero bytes | u64 sequence number of this direction (0, 1, 2, ...)
/// </code>
/// </remarks>
internal sealed class FrameSealer(ReadOnlySpan<byte> key) : IDisposable
{
    public const int TagBytes = 16;
    private const int NonceBytes = 12;
    private const int PooledBytes = 1 << 20;
    private readonly AesGcm _aes = new(key, TagBytes);
    private ulong _sequence;

    /// <summary>Writes <paramref name="type"/>, <paramref name="requestId"/> and <paramref name="payload"/> as one sealed frame.</summary>
    public void Write(IBufferWriter<byte> output, MessageType type, ulong requestId, ReadOnlySpan<byte> payload)
    {
        int plainLength = FrameCodec.HeaderBytes + payload.Length;
        Span<byte> span = output.GetSpan(FrameCodec.PrefixBytes + plainLength + TagBytes);
        FrameCodec.WriteHeader(span[FrameCodec.PrefixBytes..], type, requestId);
        payload.CopyTo(span[(FrameCodec.PrefixBytes + FrameCodec.HeaderBytes)..]);
        output.Advance(SealInPlace(span, plainLength));
    }

    /// <summary>Seals <paramref name="body"/> as given (a frame after its length field, well-formed or not): for tests of a reader.</summary>
    public void WriteBody(IBufferWriter<byte> output, ReadOnlySpan<byte> body)
    {
        Span<byte> span = output.GetSpan(FrameCodec.PrefixBytes + body.Length + TagBytes);
        body.CopyTo(span[FrameCodec.PrefixBytes..]);
        output.Advance(SealInPlace(span, body.Length));
    }

    /// <summary>Takes one whole sealed frame off the front of <paramref name="buffer"/>; false when more bytes are needed.</summary>
    /// <exception cref="ProtocolException">A bad length, a frame that fails authentication, an unknown protocol version.</exception>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, out Frame frame)
    {
        frame = default;
        if (buffer.Length < FrameCodec.PrefixBytes)
        {
            return false;
        }

        Span<byte> prefix = stackalloc byte[FrameCodec.PrefixBytes];
        buffer.Slice(0, FrameCodec.PrefixBytes).CopyTo(prefix);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (length < FrameCodec.HeaderBytes + TagBytes || length > (uint)maxFrameBytes + TagBytes)
        {
            throw new ProtocolException($"sealed frame length {length} outside {FrameCodec.HeaderBytes + TagBytes}..{(long)maxFrameBytes + TagBytes}");
        }

        if (buffer.Length < FrameCodec.PrefixBytes + length)
        {
            return false;
        }

        int plainLength = (int)length - TagBytes;
        // Pooled for the common small frame; a large one is its own array, so the pool keeps no big buffers.
        bool pooled = length <= PooledBytes;
        byte[] sealedBytes = pooled ? ArrayPool<byte>.Shared.Rent((int)length) : new byte[length];
        try
        {
            buffer.Slice(FrameCodec.PrefixBytes, length).CopyTo(sealedBytes);
            Span<byte> ciphertext = sealedBytes.AsSpan(0, plainLength);
            Span<byte> nonce = stackalloc byte[NonceBytes];
            NextNonce(nonce);
            try
            {
                _aes.Decrypt(nonce, ciphertext, sealedBytes.AsSpan(plainLength, TagBytes), ciphertext, prefix);
            }
            catch (AuthenticationTagMismatchException)
            {
                throw new ProtocolException("a frame failed authentication (modified, replayed, reordered or injected)");
            }

            frame = FrameCodec.ReadBody(ciphertext);
        }
        finally
        {
            if (pooled)
            {
                // It held a decrypted value: the next renter must not see it.
                ArrayPool<byte>.Shared.Return(sealedBytes, clearArray: true);
            }
        }

        buffer = buffer.Slice(FrameCodec.PrefixBytes + length);
        return true;
    }

    public void Dispose() => _aes.Dispose();

    /// <summary>Encrypts the <paramref name="plainLength"/> bytes after the length field in place, then writes the length and the tag.</summary>
    private int SealInPlace(Span<byte> span, int plainLength)
    {
        int total = FrameCodec.PrefixBytes + plainLength + TagBytes;
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)(plainLength + TagBytes));
        Span<byte> plain = span.Slice(FrameCodec.PrefixBytes, plainLength);
        Span<byte> nonce = stackalloc byte[NonceBytes];
        NextNonce(nonce);
        _aes.Encrypt(nonce, plain, plain, span.Slice(FrameCodec.PrefixBytes + plainLength, TagBytes), span[..FrameCodec.PrefixBytes]);
        return total;
    }

    private void NextNonce(Span<byte> nonce)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _sequence);
        _sequence = checked(_sequence + 1);
    }
}
