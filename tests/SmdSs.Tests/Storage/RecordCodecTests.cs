using System.Buffers.Binary;
using System.IO.Hashing;
using SmdSs.Model;
using SmdSs.Storage;
using static SmdSs.Tests.Storage.StorageTestSupport;

namespace SmdSs.Tests.Storage;

/// <summary>The slice-file record format (v1): layout, round trip, and rejection of every kind of damage.</summary>
public sealed class RecordCodecTests
{
    private static readonly EntryExpiry FullExpiry = new(1_767_225_600_123, 30_000, 1_767_225_590_456);

    public static TheoryData<string, int> RoundTripCases() => new()
    {
        { "a", 0 },
        { "plain-key", 17 },
        { "ключ/鍵/🔑/ä", 100 },
        { new string('k', SmdSsLimits.MaxKeyBytes), 3 },
        { "big", (3 << 20) + 5 },
    };

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void Put_round_trips_every_field(string key, int valueLength)
    {
        byte[] value = RandomValue(new Random(valueLength), valueLength);
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, key, long.MaxValue - 7, FullExpiry, value);

        Assert.Equal(RecordCodec.EncodedLength(Utf8(key).Length, valueLength), encoded.Length);
        StorageRecord record = DecodeOk(encoded, LargeMaxBody);
        Assert.Equal(RecordKind.Put, record.Kind);
        Assert.Equal(key, record.Key);
        Assert.Equal(long.MaxValue - 7, record.Version);
        Assert.Equal(FullExpiry, record.Expiry);
        Assert.Equal(value, record.Value);
        Assert.Equal(value, encoded.AsSpan(RecordCodec.ValueOffset(Utf8(key).Length)).ToArray());
    }

    [Theory]
    [InlineData((byte)RecordKind.Delete)]
    [InlineData((byte)RecordKind.Touch)]
    public void Delete_and_Touch_round_trip_with_an_empty_value(byte kindByte)
    {
        var kind = (RecordKind)kindByte;
        const string key = "clé-🗝";
        byte[] encoded = RecordCodec.Encode(kind, key, -42, FullExpiry, []);

        StorageRecord record = DecodeOk(encoded, LargeMaxBody);
        Assert.Equal(kind, record.Kind);
        Assert.Equal(key, record.Key);
        Assert.Equal(-42, record.Version);
        Assert.Equal(FullExpiry, record.Expiry);
        Assert.Empty(record.Value);
    }

    [Fact]
    public void Encoding_follows_the_documented_v1_layout()
    {
        byte[] value = [9, 8, 7];
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "ab", 0x0102030405060708, new EntryExpiry(11, 22, 33), value);
        ReadOnlySpan<byte> bytes = encoded;

        Assert.Equal("SMDR"u8.ToArray(), bytes[..4].ToArray());
        Assert.Equal(36u + 2 + 3, BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]));
        Assert.Equal(Crc32.HashToUInt32(bytes[12..]), BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]));
        Assert.Equal(1, bytes[12]);
        Assert.Equal((byte)RecordKind.Put, bytes[13]);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(bytes[14..]));
        Assert.Equal(0x0102030405060708, BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]));
        Assert.Equal(11, BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]));
        Assert.Equal(22, BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]));
        Assert.Equal(33, BinaryPrimitives.ReadInt64LittleEndian(bytes[40..]));
        Assert.Equal("ab"u8.ToArray(), bytes[48..50].ToArray());
        Assert.Equal(value, bytes[50..].ToArray());
        Assert.Equal(50, RecordCodec.ValueOffset(2));
    }

    [Fact]
    public void Decoding_consumes_only_the_first_record_of_a_longer_buffer()
    {
        byte[] first = RecordCodec.Encode(RecordKind.Put, "one", 1, EntryExpiry.None, [1, 2, 3]);
        byte[] second = RecordCodec.Encode(RecordKind.Delete, "two", 2, EntryExpiry.None, []);

        DecodeStatus status = RecordCodec.TryDecode(Concat(first, second), LargeMaxBody, out StorageRecord? record, out int consumed);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(first.Length, consumed);
        Assert.Equal("one", record!.Key);
    }

    [Theory]
    [InlineData((byte)RecordKind.Put, "k", 5)]
    [InlineData((byte)RecordKind.Put, "ключ-🔑", 0)]
    [InlineData((byte)RecordKind.Delete, "deleted", 0)]
    [InlineData((byte)RecordKind.Touch, "touched", 0)]
    public void Every_proper_prefix_needs_more(byte kindByte, string key, int valueLength)
    {
        var kind = (RecordKind)kindByte;
        byte[] encoded = RecordCodec.Encode(kind, key, 3, FullExpiry, Value(valueLength, 1));

        var wrong = new List<string>();
        for (int length = 0; length < encoded.Length; length++)
        {
            DecodeStatus status = RecordCodec.TryDecode(encoded.AsSpan(0, length), LargeMaxBody, out StorageRecord? record, out int consumed);
            if (status != DecodeStatus.NeedMore || record is not null || consumed != 0)
            {
                wrong.Add($"prefix {length}: {status}");
            }
        }

        Assert.Empty(wrong);
    }

    [Fact]
    public void A_flipped_bit_anywhere_in_a_small_record_is_corrupt()
    {
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "kü", 77, FullExpiry, [1, 2, 3, 4]);
        int bodyLength = encoded.Length - RecordCodec.HeaderBytes;

        var wrong = new List<string>();
        for (int position = 0; position < encoded.Length; position++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                byte[] damaged = (byte[])encoded.Clone();
                damaged[position] ^= (byte)(1 << bit);

                // With the limit at the record's own body length, a length field that grew is over the limit.
                DecodeStatus status = RecordCodec.TryDecode(damaged, bodyLength, out StorageRecord? record, out _);
                if (status != DecodeStatus.Corrupt || record is not null)
                {
                    wrong.Add($"byte {position} bit {bit}: {status}");
                }
            }
        }

        Assert.Empty(wrong);
    }

    [Fact]
    public void A_flipped_bit_never_decodes_even_with_a_generous_limit()
    {
        byte[] encoded = RecordCodec.Encode(RecordKind.Touch, "sliding", 5, FullExpiry, []);

        var wrong = new List<string>();
        for (int position = 0; position < encoded.Length; position++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                byte[] damaged = (byte[])encoded.Clone();
                damaged[position] ^= (byte)(1 << bit);
                DecodeStatus status = RecordCodec.TryDecode(damaged, LargeMaxBody, out _, out _);

                // A length field that grew within the limit can only ask for more bytes; everything else is corrupt.
                bool lengthField = position is >= 4 and < 8;
                bool ok = lengthField ? status is DecodeStatus.Corrupt or DecodeStatus.NeedMore : status == DecodeStatus.Corrupt;
                if (!ok)
                {
                    wrong.Add($"byte {position} bit {bit}: {status}");
                }
            }
        }

        Assert.Empty(wrong);
    }

    [Fact]
    public void A_body_over_the_maximum_is_corrupt_and_one_at_the_maximum_decodes()
    {
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "key", 1, EntryExpiry.None, Value(100, 2));
        int bodyLength = encoded.Length - RecordCodec.HeaderBytes;

        Assert.Equal(DecodeStatus.Ok, RecordCodec.TryDecode(encoded, bodyLength, out _, out _));
        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode(encoded, bodyLength - 1, out _, out _));

        // Only the header is there: a length over the limit is corrupt at once, never "need more".
        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode(encoded.AsSpan(0, RecordCodec.HeaderBytes), bodyLength - 1, out _, out _));

        byte[] huge = (byte[])encoded.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(huge.AsSpan(4), uint.MaxValue);
        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode(huge, int.MaxValue, out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(35)]
    [InlineData(36)]
    public void A_body_too_short_for_the_fixed_fields_and_a_key_is_corrupt(uint bodyLength)
    {
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "key", 1, EntryExpiry.None, Value(64, 3));
        BinaryPrimitives.WriteUInt32LittleEndian(encoded.AsSpan(4), bodyLength);

        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode(encoded, LargeMaxBody, out _, out _));
    }

    [Theory]
    [InlineData(13, 0)] // kind 0
    [InlineData(13, 4)] // kind 4
    [InlineData(13, 255)]
    [InlineData(12, 0)] // format version 0
    [InlineData(12, 2)] // format version 2
    [InlineData(12, 255)]
    public void An_unknown_kind_or_format_version_with_a_valid_crc_is_corrupt(int position, byte newValue)
    {
        // No value bytes: only the kind or version check can reject it.
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "key", 1, EntryExpiry.None, []);
        encoded[position] = newValue;
        FixCrc(encoded);

        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode(encoded, LargeMaxBody, out StorageRecord? record, out int consumed));
        Assert.Null(record);
        Assert.Equal(0, consumed);
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)6)] // longer than key + value (3 + 2)
    [InlineData(ushort.MaxValue)]
    public void A_key_length_that_does_not_fit_the_body_is_corrupt(ushort keyLength)
    {
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "key", 1, EntryExpiry.None, [1, 2]);
        BinaryPrimitives.WriteUInt16LittleEndian(encoded.AsSpan(14), keyLength);
        FixCrc(encoded);

        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode(encoded, LargeMaxBody, out _, out _));
    }

    [Theory]
    [InlineData((byte)RecordKind.Delete)]
    [InlineData((byte)RecordKind.Touch)]
    public void A_delete_or_touch_carrying_value_bytes_is_corrupt(byte kind)
    {
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "key", 1, EntryExpiry.None, [1, 2]);
        encoded[13] = kind;
        FixCrc(encoded);

        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode(encoded, LargeMaxBody, out _, out _));
    }

    [Fact]
    public void Bytes_that_do_not_start_with_the_magic_are_corrupt_even_when_short()
    {
        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode("X"u8, LargeMaxBody, out _, out _));
        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode("SMX"u8, LargeMaxBody, out _, out _));
        Assert.Equal(DecodeStatus.NeedMore, RecordCodec.TryDecode("SMD"u8, LargeMaxBody, out _, out _));
    }

    [Fact]
    public void Encoding_into_a_destination_of_the_wrong_size_throws()
    {
        byte[] destination = new byte[RecordCodec.EncodedLength(3, 2) + 1];

        Assert.Throws<ArgumentException>(() =>
            RecordCodec.Encode(destination, RecordKind.Put, "key"u8, 1, EntryExpiry.None, [1, 2]));
    }

    [Fact]
    public void FindNextMagic_skips_the_first_byte_and_finds_the_next_record_start()
    {
        Assert.Equal(-1, RecordCodec.FindNextMagic("SMDR"u8));
        Assert.Equal(-1, RecordCodec.FindNextMagic("S"u8));
        Assert.Equal(-1, RecordCodec.FindNextMagic([]));
        Assert.Equal(3, RecordCodec.FindNextMagic("SMDSMDR"u8));
        Assert.Equal(4, RecordCodec.FindNextMagic("SMDRSMDR"u8));
        Assert.Equal(-1, RecordCodec.FindNextMagic("xxSMD"u8));
    }

    private static void FixCrc(byte[] encoded) =>
        BinaryPrimitives.WriteUInt32LittleEndian(encoded.AsSpan(8), Crc32.HashToUInt32(encoded.AsSpan(RecordCodec.HeaderBytes)));
}
