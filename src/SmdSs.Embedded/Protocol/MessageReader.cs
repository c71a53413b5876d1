using System.Buffers.Binary;
using System.Text;

namespace SmdSs.Protocol;

/// <summary>Reads what <see cref="MessageWriter"/> wrote; a short or malformed payload throws <see cref="ProtocolException"/>.</summary>
internal ref struct MessageReader(ReadOnlySpan<byte> payload)
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
    private ReadOnlySpan<byte> _rest = payload;

    public readonly bool AtEnd => _rest.IsEmpty;

    public byte U8() => Take(1)[0];

    public bool Bool() => U8() != 0;

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public string String()
    {
        int length = BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
        try
        {
            return StrictUtf8.GetString(Take(length));
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolException("string is not valid UTF-8");
        }
    }

    public byte[] Bytes() => BytesSpan().ToArray();

    /// <summary>Exactly <paramref name="count"/> raw bytes (no length prefix).</summary>
    public byte[] BytesFixed(int count) => Take(count).ToArray();

    public ReadOnlySpan<byte> BytesSpan()
    {
        uint length = U32();
        if (length > (uint)_rest.Length)
        {
            throw new ProtocolException($"blob of {length} bytes in a payload of {_rest.Length}");
        }

        return Take((int)length);
    }

    /// <summary>A list count, checked against the bytes left (each item takes at least <paramref name="minItemBytes"/>).</summary>
    public int Count(int minItemBytes)
    {
        uint count = U32();
        if (count > (uint)(_rest.Length / Math.Max(1, minItemBytes)))
        {
            throw new ProtocolException($"list of {count} items cannot fit in {_rest.Length} bytes");
        }

        return (int)count;
    }

    public readonly void ExpectEnd()
    {
        if (!_rest.IsEmpty)
        {
            throw new ProtocolException($"{_rest.Length} unexpected bytes after the message");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _rest.Length)
        {
            throw new ProtocolException("payload ends early");
        }

        ReadOnlySpan<byte> taken = _rest[..count];
        _rest = _rest[count..];
        return taken;
    }
}
