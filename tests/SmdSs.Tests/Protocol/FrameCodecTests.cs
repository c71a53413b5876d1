using System.Buffers;
using System.Buffers.Binary;
using SmdSs.Protocol;

namespace SmdSs.Tests.Protocol;

/// <summary>The frame layer: length prefix, version, type, request id, payload; read incrementally.</summary>
public sealed class FrameCodecTests
{
    private const int Max = 1 << 16;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(Max - FrameCodec.HeaderBytes)]
    public void A_frame_round_trips(int payloadBytes)
    {
        byte[] payload = Payload(payloadBytes, seed: payloadBytes);
        byte[] bytes = FrameCodec.Encode(MessageType.SyncDelta, 0xDEADBEEF_01020304UL, payload);

        Assert.Equal(FrameCodec.PrefixBytes + FrameCodec.HeaderBytes + payloadBytes, bytes.Length);
        Assert.Equal((uint)(FrameCodec.HeaderBytes + payloadBytes), BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(FrameCodec.ProtocolVersion, bytes[4]);

        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(FrameCodec.TryRead(ref buffer, Max, out Frame frame));
        Assert.Equal(MessageType.SyncDelta, frame.Type);
        Assert.Equal(0xDEADBEEF_01020304UL, frame.RequestId);
        Assert.Equal(payload, frame.Payload);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void Write_to_a_buffer_writer_produces_the_same_bytes_as_Encode()
    {
        byte[] payload = Payload(77, seed: 3);
        var writer = new ArrayBufferWriter<byte>();
        FrameCodec.Write(writer, MessageType.Ping, 9, payload);
        Assert.Equal(FrameCodec.Encode(MessageType.Ping, 9, payload), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Every_proper_prefix_of_a_frame_needs_more_bytes_and_consumes_nothing()
    {
        byte[] bytes = FrameCodec.Encode(MessageType.Set, 7, Payload(40, seed: 1));
        for (int length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);
            Assert.False(FrameCodec.TryRead(ref buffer, Max, out _), $"a prefix of {length} bytes was read as a frame");
            Assert.Equal(length, buffer.Length);
        }
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(9u)]
    [InlineData((uint)Max + 1)]
    [InlineData(0x7FFFFFFFu)]
    [InlineData(0x80000000u)]
    [InlineData(0xFFFFFFF0u)]
    [InlineData(uint.MaxValue)]
    public void A_length_under_10_or_over_the_maximum_is_refused_from_the_prefix_alone(uint length)
    {
        byte[] prefix = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, length);
        var buffer = new ReadOnlySequence<byte>(prefix);
        ProtocolException ex = Assert.Throws<ProtocolException>(() => FrameCodec.TryRead(ref buffer, Max, out _));
        Assert.Contains("frame length", ex.Message, StringComparison.Ordinal);

        // The same with the rest of a header behind it.
        byte[] whole = [.. prefix, FrameCodec.ProtocolVersion, (byte)MessageType.Ping, 0, 0, 0, 0, 0, 0, 0, 0];
        var longer = new ReadOnlySequence<byte>(whole);
        Assert.Throws<ProtocolException>(() => FrameCodec.TryRead(ref longer, Max, out _));
    }

    [Fact]
    public void Lengths_at_the_bounds_are_accepted()
    {
        byte[] smallest = FrameCodec.Encode(MessageType.HelloOk, 1, []);
        var buffer = new ReadOnlySequence<byte>(smallest);
        Assert.True(FrameCodec.TryRead(ref buffer, Max, out Frame empty));
        Assert.Empty(empty.Payload);

        byte[] largest = FrameCodec.Encode(MessageType.Set, 2, new byte[Max - FrameCodec.HeaderBytes]);
        buffer = new ReadOnlySequence<byte>(largest);
        Assert.True(FrameCodec.TryRead(ref buffer, Max, out Frame full));
        Assert.Equal(Max - FrameCodec.HeaderBytes, full.Payload.Length);

        byte[] tooLarge = FrameCodec.Encode(MessageType.Set, 3, new byte[Max - FrameCodec.HeaderBytes + 1]);
        buffer = new ReadOnlySequence<byte>(tooLarge);
        Assert.Throws<ProtocolException>(() => FrameCodec.TryRead(ref buffer, Max, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(9)]
    [InlineData(255)]
    public void An_unknown_protocol_version_is_refused_as_soon_as_its_byte_arrives(byte version)
    {
        byte[] bytes = FrameCodec.Encode(MessageType.Ping, 5, Payload(20, seed: 2));
        bytes[4] = version;

        for (int available = FrameCodec.PrefixBytes + 1; available <= bytes.Length; available++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, available);
            ProtocolException ex = Assert.Throws<ProtocolException>(() => FrameCodec.TryRead(ref buffer, Max, out _));
            Assert.Contains($"unknown protocol version {version}", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_frame_of_protocol_version_1_is_refused_naming_the_upgrade()
    {
        byte[] bytes = FrameCodec.Encode(MessageType.Hello, 1, Payload(20, seed: 2));
        bytes[4] = 1;
        var buffer = new ReadOnlySequence<byte>(bytes);
        ProtocolException ex = Assert.Throws<ProtocolException>(() => FrameCodec.TryRead(ref buffer, Max, out _));
        Assert.Contains("protocol version 1, from a node of a release before sealed frames: upgrade every node", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Frames_back_to_back_in_one_buffer_are_all_read_in_order()
    {
        var writer = new ArrayBufferWriter<byte>();
        var expected = new List<(MessageType, ulong, byte[])>();
        for (int i = 0; i < 50; i++)
        {
            byte[] payload = Payload(i * 7 % 64, seed: i);
            var type = (MessageType)(i % 2 == 0 ? (byte)MessageType.Get : (byte)MessageType.Ok);
            FrameCodec.Write(writer, type, (ulong)i * 1000, payload);
            expected.Add((type, (ulong)i * 1000, payload));
        }

        // A torn frame at the end stays in the buffer.
        byte[] next = FrameCodec.Encode(MessageType.Remove, 99, Payload(30, seed: 9));
        writer.Write(next.AsSpan(0, 17));

        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);
        var read = new List<(MessageType, ulong, byte[])>();
        while (FrameCodec.TryRead(ref buffer, Max, out Frame frame))
        {
            read.Add((frame.Type, frame.RequestId, frame.Payload));
        }

        Assert.Equal(expected.Count, read.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Item1, read[i].Item1);
            Assert.Equal(expected[i].Item2, read[i].Item2);
            Assert.Equal(expected[i].Item3, read[i].Item3);
        }

        Assert.Equal(17, buffer.Length);
    }

    [Fact]
    public void A_frame_split_across_segments_at_any_point_is_read_whole()
    {
        byte[] payload = Payload(33, seed: 4);
        byte[] bytes = FrameCodec.Encode(MessageType.Replicate, 0x0102030405060708UL, payload);

        for (int cut = 1; cut < bytes.Length; cut++)
        {
            ReadOnlySequence<byte> buffer = Segments(bytes[..cut], bytes[cut..]);
            Assert.True(FrameCodec.TryRead(ref buffer, Max, out Frame frame), $"split at {cut}");
            Assert.Equal(MessageType.Replicate, frame.Type);
            Assert.Equal(0x0102030405060708UL, frame.RequestId);
            Assert.Equal(payload, frame.Payload);
            Assert.True(buffer.IsEmpty);
        }

        // One byte per segment, two frames in a row.
        byte[] two = [.. bytes, .. FrameCodec.Encode(MessageType.Ok, 1, [5])];
        ReadOnlySequence<byte> bytewise = Segments([.. two.Select(b => new[] { b })]);
        Assert.True(FrameCodec.TryRead(ref bytewise, Max, out Frame first));
        Assert.Equal(payload, first.Payload);
        Assert.True(FrameCodec.TryRead(ref bytewise, Max, out Frame second));
        Assert.Equal(MessageType.Ok, second.Type);
        Assert.Equal([5], second.Payload);
        Assert.True(bytewise.IsEmpty);
    }

    [Fact]
    public void A_bad_version_or_length_split_across_segments_is_still_refused()
    {
        byte[] bytes = FrameCodec.Encode(MessageType.Ping, 1, Payload(10, seed: 5));
        bytes[4] = 9;
        for (int cut = 1; cut < bytes.Length; cut++)
        {
            ReadOnlySequence<byte> buffer = Segments(bytes[..cut], bytes[cut..]);
            Assert.Throws<ProtocolException>(() => FrameCodec.TryRead(ref buffer, Max, out _));
        }

        byte[] huge = [0xF0, 0xFF, 0xFF, 0xFF];
        for (int cut = 1; cut < huge.Length; cut++)
        {
            ReadOnlySequence<byte> buffer = Segments(huge[..cut], huge[cut..]);
            Assert.Throws<ProtocolException>(() => FrameCodec.TryRead(ref buffer, Max, out _));
        }
    }

    [Fact]
    public void Random_bytes_either_need_more_or_are_refused_with_a_ProtocolException()
    {
        var random = new Random(20260101);
        for (int i = 0; i < 2000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            if (i % 3 == 0 && bytes.Length > 4)
            {
                // A plausible length and version, so the rest of the reader is reached too.
                BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)random.Next(0, 80));
                bytes[4] = FrameCodec.ProtocolVersion;
            }

            var buffer = new ReadOnlySequence<byte>(bytes);
            try
            {
                while (FrameCodec.TryRead(ref buffer, Max, out _))
                {
                }
            }
            catch (ProtocolException)
            {
                // The one allowed failure.
            }
        }
    }

    internal static byte[] Payload(int length, int seed)
    {
        byte[] payload = new byte[length];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    private static ReadOnlySequence<byte> Segments(params byte[][] parts) => BufferSegments.Of(parts);
}
