using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>Outcome of decoding a record from the front of a buffer.</summary>
internal enum DecodeStatus
{
    /// <summary>A whole, CRC-valid record was decoded.</summary>
    Ok,

    /// <summary>The buffer holds the start of what may be a record; more bytes are needed.</summary>
    NeedMore,

    /// <summary>The bytes at the front are not a valid record (bad magic, length, CRC or field).</summary>
    Corrupt,
}

/// <summary>
/// Span-in, span-out codec of slice-file records. No I/O here.
/// </summary>
/// <remarks>
/// FORMAT (v1 and v2), little-endian, one record:
/// <code>
///   offset size  field
///   0      4     magic "SMDR" (0x53 0x4D 0x44 0x52) — lets a reader resynchronise after damage
///   4      4     bodyLength (u32): bytes of body that follow the CRC
///   8      4     CRC-32 (IEEE) of the body
///   12     body:
///          1     format version (1, or 2 with answers)
///          1     kind: 1 Put, 2 Delete (tombstone), 3 Touch (new sliding deadline)
///          2     keyLength (u16), 1..MaxKeyBytes
///          8     version (i64, hybrid logical timestamp; last writer wins)
///          8     absolute expiry, Unix ms (0 = none)
///          8     sliding window, ms (0 = none)
///          8     current deadline, Unix ms (0 = none)
///          k     key, UTF-8
///          v     value (the rest of the body in v1; empty unless Put)
///   v2 only, after the value:
///          n     the answers of the atomic operations the record holds (<see cref="RecordAnswers"/>)
///          4     n (u32)
/// </code>
/// Records without answers are written as v1, so files of plain cache writes are unchanged.
/// A record is valid only whole: a torn or corrupted record fails its CRC and is dropped alone,
/// and the reader scans forward to the next magic to find the records after it.
/// </remarks>
internal static class RecordCodec
{
    public const byte FormatVersion = 1;
    public const byte AnswersFormatVersion = 2;
    public const int HeaderBytes = 12;
    public const int FixedBodyBytes = 36;
    public static ReadOnlySpan<byte> Magic => "SMDR"u8;

    /// <summary>The encoded size of a record with these key and value lengths (and a trailer of <see cref="TrailerLength"/>).</summary>
    public static int EncodedLength(int keyBytes, int valueBytes, int trailerBytes = 0) => HeaderBytes + FixedBodyBytes + keyBytes + valueBytes + trailerBytes;

    /// <summary>
    /// The bytes a v2 record spends after its value on <paramref name="answers"/> (0: none, a v1
    /// record); only the newest answers that fit in <see cref="RecordAnswers.MaxBytes"/> are written.
    /// </summary>
    public static int TrailerLength(IReadOnlyList<OperationAnswer>? answers) =>
        answers is null or { Count: 0 } ? 0 : RecordAnswers.Length(RecordAnswers.Fitting(answers)) + 4;

    /// <summary>Where the value starts, counted from the start of the record.</summary>
    public static int ValueOffset(int keyBytes) => HeaderBytes + FixedBodyBytes + keyBytes;

    /// <summary>Encodes a record into <paramref name="destination"/>, which must be exactly <see cref="EncodedLength"/> long.</summary>
    public static void Encode(
        Span<byte> destination, RecordKind kind, ReadOnlySpan<byte> utf8Key, long version, EntryExpiry expiry, ReadOnlySpan<byte> value, IReadOnlyList<OperationAnswer>? answers = null)
    {
        answers = answers is null ? null : RecordAnswers.Fitting(answers);
        int trailer = TrailerLength(answers);
        int bodyLength = FixedBodyBytes + utf8Key.Length + value.Length + trailer;
        if (destination.Length != HeaderBytes + bodyLength)
        {
            throw new ArgumentException("Destination must be exactly the encoded length.", nameof(destination));
        }

        Span<byte> body = destination[HeaderBytes..];
        body[0] = trailer == 0 ? FormatVersion : AnswersFormatVersion;
        body[1] = (byte)kind;
        BinaryPrimitives.WriteUInt16LittleEndian(body[2..], checked((ushort)utf8Key.Length));
        BinaryPrimitives.WriteInt64LittleEndian(body[4..], version);
        BinaryPrimitives.WriteInt64LittleEndian(body[12..], expiry.AbsoluteMs);
        BinaryPrimitives.WriteInt64LittleEndian(body[20..], expiry.SlidingMs);
        BinaryPrimitives.WriteInt64LittleEndian(body[28..], expiry.DeadlineMs);
        utf8Key.CopyTo(body[FixedBodyBytes..]);
        value.CopyTo(body[(FixedBodyBytes + utf8Key.Length)..]);
        if (trailer > 0)
        {
            RecordAnswers.Write(body.Slice(bodyLength - trailer, trailer - 4), answers!);
            BinaryPrimitives.WriteUInt32LittleEndian(body[(bodyLength - 4)..], (uint)(trailer - 4));
        }

        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)bodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Crc32.HashToUInt32(body));
    }

    /// <summary>Encodes with the key as a string of <paramref name="keyBytes"/> UTF-8 bytes, written straight into place.</summary>
    public static void Encode(Span<byte> destination, RecordKind kind, string key, int keyBytes, long version, EntryExpiry expiry, ReadOnlySpan<byte> value, IReadOnlyList<OperationAnswer>? answers = null)
    {
        Span<byte> utf8Key = destination.Slice(HeaderBytes + FixedBodyBytes, keyBytes);
        Encoding.UTF8.GetBytes(key, utf8Key);
        // Encode copies the key onto itself here, which is harmless.
        Encode(destination, kind, utf8Key, version, expiry, value, answers);
    }

    public static byte[] Encode(RecordKind kind, string key, long version, EntryExpiry expiry, ReadOnlySpan<byte> value, IReadOnlyList<OperationAnswer>? answers = null)
    {
        byte[] utf8Key = Encoding.UTF8.GetBytes(key);
        byte[] record = new byte[EncodedLength(utf8Key.Length, value.Length, TrailerLength(answers))];
        Encode(record, kind, utf8Key, version, expiry, value, answers);
        return record;
    }

    /// <summary>
    /// Decodes the record at the front of <paramref name="source"/>. On <see cref="DecodeStatus.Ok"/>,
    /// <paramref name="consumed"/> is its encoded length. Bodies longer than
    /// <paramref name="maxBodyBytes"/> are corrupt by definition: a damaged length field must not
    /// make the reader wait for gigabytes.
    /// </summary>
    public static DecodeStatus TryDecode(ReadOnlySpan<byte> source, int maxBodyBytes, out StorageRecord? record, out int consumed)
    {
        record = null;
        consumed = 0;
        int prefix = Math.Min(source.Length, Magic.Length);
        if (!source[..prefix].SequenceEqual(Magic[..prefix]))
        {
            return DecodeStatus.Corrupt;
        }

        if (source.Length < HeaderBytes)
        {
            return DecodeStatus.NeedMore;
        }

        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(source[4..]);
        if (bodyLength < FixedBodyBytes + 1 || bodyLength > (uint)maxBodyBytes)
        {
            return DecodeStatus.Corrupt;
        }

        if (source.Length < HeaderBytes + (int)bodyLength)
        {
            return DecodeStatus.NeedMore;
        }

        ReadOnlySpan<byte> body = source.Slice(HeaderBytes, (int)bodyLength);
        if (Crc32.HashToUInt32(body) != BinaryPrimitives.ReadUInt32LittleEndian(source[8..]))
        {
            return DecodeStatus.Corrupt;
        }

        record = DecodeBody(body);
        if (record is null)
        {
            return DecodeStatus.Corrupt;
        }

        consumed = HeaderBytes + (int)bodyLength;
        return DecodeStatus.Ok;
    }

    private static StorageRecord? DecodeBody(ReadOnlySpan<byte> body)
    {
        var kind = (RecordKind)body[1];
        int keyLength = BinaryPrimitives.ReadUInt16LittleEndian(body[2..]);
        int valueLength = body.Length - FixedBodyBytes - keyLength;
        OperationAnswer[]? answers = null;
        if (body[0] == AnswersFormatVersion)
        {
            uint answerBytes = valueLength >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(body[^4..]) : uint.MaxValue;
            if (answerBytes > valueLength - 4)
            {
                return null;
            }

            valueLength -= 4 + (int)answerBytes;
            answers = RecordAnswers.Read(body.Slice(FixedBodyBytes + keyLength + valueLength, (int)answerBytes));
            if (answers is null)
            {
                return null;
            }
        }
        else if (body[0] != FormatVersion)
        {
            return null;
        }

        bool knownKind = kind is RecordKind.Put or RecordKind.Delete or RecordKind.Touch;
        if (!knownKind || keyLength == 0 || valueLength < 0 || (kind != RecordKind.Put && valueLength != 0))
        {
            return null;
        }

        var expiry = new EntryExpiry(
            BinaryPrimitives.ReadInt64LittleEndian(body[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(body[20..]),
            BinaryPrimitives.ReadInt64LittleEndian(body[28..]));
        string key = Encoding.UTF8.GetString(body.Slice(FixedBodyBytes, keyLength));
        byte[] value = body.Slice(FixedBodyBytes + keyLength, valueLength).ToArray();
        return new StorageRecord(kind, key, BinaryPrimitives.ReadInt64LittleEndian(body[4..]), expiry, value) { Answers = answers };
    }

    /// <summary>The offset of the next possible record start after the first byte, or -1.</summary>
    public static int FindNextMagic(ReadOnlySpan<byte> source)
    {
        if (source.Length <= 1)
        {
            return -1;
        }

        int found = source[1..].IndexOf(Magic);
        return found < 0 ? -1 : found + 1;
    }
}
