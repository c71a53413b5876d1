using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace SmdSs.Protocol;

/// <summary>
/// Writes message payloads: fixed-width little-endian integers, strings as u16 length + UTF-8,
/// byte blobs as u32 length + bytes, lists as u32 count + items.
/// </summary>
internal sealed class MessageWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public int Length => _buffer.WrittenCount;

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public MessageWriter U8(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
        return this;
    }

    public MessageWriter Bool(bool value) => U8(value ? (byte)1 : (byte)0);

    public MessageWriter U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
        return this;
    }

    public MessageWriter I32(int value) => U32(unchecked((uint)value));

    public MessageWriter U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    public MessageWriter I64(long value) => U64(unchecked((ulong)value));

    public MessageWriter String(string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException("String too long for the protocol.", nameof(value));
        }

        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.GetSpan(2), (ushort)length);
        _buffer.Advance(2);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length));
        _buffer.Advance(length);
        return this;
    }

    public MessageWriter Bytes(ReadOnlySpan<byte> value)
    {
        U32((uint)value.Length);
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
        return this;
    }

    public MessageWriter Raw(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
        return this;
    }
}
