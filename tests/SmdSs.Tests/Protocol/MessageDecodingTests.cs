using System.Text;
using SmdSs.Protocol;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// Payload decoding: a short, oversized or malformed payload fails with <see cref="ProtocolException"/>
/// (which the listener turns into an Error reply or a closed connection), never with anything else.
/// </summary>
public sealed class MessageDecodingTests
{
    /// <summary>Far more than any decoder needs for a payload of a few dozen bytes; an unchecked count would allocate hundreds of MB.</summary>
    private const long AllocationBudget = 1 << 20;

    public static TheoryData<string> DecoderNames => Decoders.Names();

    [Theory]
    [MemberData(nameof(DecoderNames))]
    public void A_valid_payload_round_trips(string decoder)
    {
        (byte[] valid, Func<byte[], byte[]> decode) = Decoders.All[decoder];
        Assert.Equal(valid, decode(valid));
    }

    [Theory]
    [MemberData(nameof(DecoderNames))]
    public void Every_truncation_of_a_valid_payload_throws_ProtocolException(string decoder)
    {
        (byte[] valid, Func<byte[], byte[]> decode) = Decoders.All[decoder];
        for (int length = 0; length < valid.Length; length++)
        {
            byte[] truncated = valid[..length];
            Exception? ex = Record.Exception(() => decode(truncated));
            Assert.True(ex is ProtocolException, $"{decoder} on the first {length} of {valid.Length} bytes: {ex?.GetType().Name ?? "no exception"} {ex?.Message}");
        }
    }

    [Theory]
    [MemberData(nameof(DecoderNames))]
    public void Trailing_bytes_after_a_valid_payload_throw_ProtocolException(string decoder)
    {
        (byte[] valid, Func<byte[], byte[]> decode) = Decoders.All[decoder];
        Assert.Throws<ProtocolException>(() => decode([.. valid, 0]));
    }

    public static TheoryData<string, string> OversizedClaims => new()
    {
        // decoder, hex payload (little-endian): a count or length claiming far more than is there.
        { "Messages.DecodeSyncSummary", "80969800" + new string('0', 60) },
        { "Messages.DecodeSyncSummary", "00000000" + "ffffffff" + new string('0', 60) },
        { "Messages.DecodeSyncDelta", "80969800" + new string('0', 80) },
        { "Messages.DecodeSyncDelta", "00000000" + "ffffff7f" + new string('0', 80) },
        { "Messages.DecodeSyncDelta", "00000000" + "00000000" + "80969800" + new string('0', 80) },
        { "Messages.DecodeSyncDelta", "00000000" + "00000000" + "00000000" + "ffffffff" + new string('0', 80) },
        { "Messages.DecodeSliceRecords", "00000000" + "0000000000000000" + "80969800" + new string('0', 80) },
        { "Messages.DecodeStarts", "ffffffff" + new string('0', 48) },
        { "Messages.DecodeStarts", "80969800" + new string('0', 48) },
        { "Messages.DecodeForwarded", "0100" + "61" + new string('0', 48) + "ffffffff" + "0000" },
        { "Messages.DecodeForwarded", "ffff" + "6161" },
        { "WireFormat.ReadIds", "80969800" + new string('0', 64) },
        { "WireFormat.ReadSlice", "00000000" + "ffffffff" + "0000000000000000" + "80969800" + new string('0', 64) },
        { "WireFormat.ReadSlice", "00000000" + "ffffffff" + "0000000000000000" + "00000000" + "ffffffff" + new string('0', 64) },
        { "WireFormat.ReadRecord", "01" + "0100" + "61" + new string('0', 64) + "fffffff0" },
        { "WireFormat.ReadNodeRecord", "0000000000000000" + "ffff" + "61" },
        { "ComputeMessages.DecodeAtomic", "01" + "ffff" + "61" },
        { "ComputeMessages.DecodeAtomic", "01" + "0100" + "61" + new string('0', 80) + "0000" + "ffffff7f" + "00" },
        { "ComputeMessages.DecodeMapSlice", "0100" + "61" + "ffffffff" + new string('0', 16) },
        { "ComputeMessages.DecodeClaim", "00" + "0000000000000000" + "80969800" + "0000" },
    };

    [Theory]
    [MemberData(nameof(OversizedClaims))]
    public void A_count_or_length_claiming_more_than_the_bytes_left_throws_before_allocating(string decoder, string hex)
    {
        byte[] payload = Convert.FromHexString(hex);
        Func<byte[], byte[]> decode = Decoders.All[decoder].Decode;
        Record.Exception(() => decode(payload)); // warm up (JIT), so only the decoding is measured

        long before = GC.GetAllocatedBytesForCurrentThread();
        Exception? ex = Record.Exception(() => decode(payload));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(ex is ProtocolException, $"{decoder}: {ex?.GetType().Name ?? "no exception"} {ex?.Message}");
        Assert.True(allocated < AllocationBudget, $"{decoder} allocated {allocated} bytes for a {payload.Length}-byte payload");
    }

    [Fact]
    public void A_list_count_is_checked_against_the_bytes_left()
    {
        byte[] payload = [.. new MessageWriter().U32(2).ToArray(), .. new byte[16]];
        var exact = new MessageReader(payload);
        Assert.Equal(2, exact.Count(8));

        byte[] tooMany = [.. new MessageWriter().U32(3).ToArray(), .. new byte[16]];
        Assert.Throws<ProtocolException>(() =>
        {
            var reader = new MessageReader(tooMany);
            reader.Count(8);
        });

        Assert.Throws<ProtocolException>(() =>
        {
            var reader = new MessageReader(new MessageWriter().U32(uint.MaxValue).ToArray());
            reader.Count(0);
        });
    }

    public static TheoryData<string> InvalidUtf8 => new()
    {
        "ff",
        "c328",
        "e28228",
        "c080",           // overlong NUL
        "eda080",         // lone surrogate
        "f4908080",       // above U+10FFFF
        "616263e282",     // torn at the end
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8))]
    public void Invalid_UTF8_in_a_string_throws_ProtocolException(string hex)
    {
        byte[] bad = Convert.FromHexString(hex);
        byte[] stringBytes = [.. BitConverter.GetBytes((ushort)bad.Length), .. bad];

        ProtocolException ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new MessageReader(stringBytes);
            reader.String();
        });
        Assert.Contains("UTF-8", ex.Message, StringComparison.Ordinal);

        // In every decoder that reads a string: a node's endpoint, a forwarded key, a record's key.
        byte[] node = [.. new MessageWriter().U64(1).ToArray(), .. stringBytes, .. new MessageWriter().U8(1).I64(1).I64(1).I64(1).ToArray()];
        Assert.Throws<ProtocolException>(() => Messages.DecodeNode(node));

        byte[] forwarded = [.. stringBytes, .. new MessageWriter().I64(0).I64(0).I64(0).Bytes([1]).ToArray()];
        Assert.Throws<ProtocolException>(() => Messages.DecodeForwarded(forwarded));

        byte[] records = [.. new MessageWriter().U32(0).I64(1).U32(1).U8(1).ToArray(), .. stringBytes, .. new MessageWriter().I64(1).I64(0).I64(0).I64(0).Bytes([1]).ToArray()];
        Assert.Throws<ProtocolException>(() => Messages.DecodeSliceRecords(records));
    }

    [Fact]
    public void Valid_multibyte_UTF8_is_read()
    {
        string text = "caf\u00e9 \u4e2d \ud83d\ude00";
        byte[] payload = new MessageWriter().String(text).ToArray();
        var reader = new MessageReader(payload);
        Assert.Equal(text, reader.String());
        Assert.True(reader.AtEnd);
        Assert.Equal(Encoding.UTF8.GetByteCount(text) + 2, payload.Length);
    }

    [Theory]
    [InlineData("0000000000000000" + "0000" + "06" + "000000000000000000000000000000000000000000000000")]
    [InlineData("0000000000000000" + "0000" + "ff" + "000000000000000000000000000000000000000000000000")]
    public void An_unknown_node_state_throws_ProtocolException(string hex) =>
        Assert.Throws<ProtocolException>(() => Messages.DecodeNode(Convert.FromHexString(hex)));

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(255)]
    public void An_unknown_record_kind_throws_ProtocolException(byte kind)
    {
        byte[] payload = new MessageWriter().U8(kind).String("k").I64(1).I64(0).I64(0).I64(0).Bytes([]).ToArray();
        Assert.Throws<ProtocolException>(() =>
        {
            var reader = new MessageReader(payload);
            SmdSs.Protocol.WireFormat.ReadRecord(ref reader);
        });
    }

    [Fact]
    public void An_inverted_slice_range_throws_ProtocolException()
    {
        byte[] payload = new MessageWriter().U32(10).U32(9).I64(1).U32(0).U32(0).ToArray();
        Assert.Throws<ProtocolException>(() =>
        {
            var reader = new MessageReader(payload);
            SmdSs.Protocol.WireFormat.ReadSlice(ref reader);
        });
    }

    [Fact]
    public void A_malformed_error_reply_is_read_as_an_internal_error_never_thrown()
    {
        var random = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            byte[] payload = new byte[random.Next(0, 40)];
            random.NextBytes(payload);
            ErrorReply reply = ErrorReply.Read(payload);
            Assert.NotNull(reply.Message);
        }

        Assert.Equal(new ErrorReply(ErrorCode.Internal, "malformed error reply"), ErrorReply.Read([]));
        ErrorReply round = ErrorReply.Read(new ErrorReply(ErrorCode.Refused, "no").Encode());
        Assert.Equal(new ErrorReply(ErrorCode.Refused, "no"), round);
    }
}
