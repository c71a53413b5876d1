using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Tests.Compute;

/// <summary>
/// The calculation messages round-trip, and reject what they cannot mean. (Truncation, trailing
/// bytes and fuzzing of these decoders run with every other decoder: see Protocol/Decoders.cs.)
/// </summary>
public sealed class ComputeMessagesTests
{
    private static readonly StorageRecord Put = new(RecordKind.Put, "cart:\u00fc", 99, new EntryExpiry(1_000, 2_000, 3_000), [1, 2, 3]);
    private static readonly StorageRecord Delete = new(RecordKind.Delete, "k", 100, EntryExpiry.None, []);

    public static TheoryData<byte> Kinds()
    {
        var data = new TheoryData<byte>();
        foreach (AtomicKind kind in Enum.GetValues<AtomicKind>())
        {
            data.Add((byte)kind);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void An_atomic_request_of_every_kind_round_trips(byte kind)
    {
        var request = new AtomicRequest((AtomicKind)kind, "user:\ud83d\ude00", ulong.MaxValue - kind, new EntryExpiry(11, 22, 33), long.MinValue + kind, "cart-add", [9, 8, kind]);
        AtomicRequest decoded = ComputeMessages.DecodeAtomic(ComputeMessages.Encode(request));

        Assert.Equal(request.Kind, decoded.Kind);
        Assert.Equal(request.Key, decoded.Key);
        Assert.Equal(request.OperationId, decoded.OperationId);
        Assert.Equal(request.Expiry, decoded.Expiry);
        Assert.Equal(request.Number, decoded.Number);
        Assert.Equal(request.Name, decoded.Name);
        Assert.Equal(request.Value, decoded.Value);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(255)]
    public void An_unknown_atomic_kind_throws_ProtocolException(byte kind)
    {
        byte[] payload = ComputeMessages.Encode(new AtomicRequest(AtomicKind.Increment, "k", 1, EntryExpiry.None, 1, "", []));
        payload[0] = kind;
        Assert.Throws<ProtocolException>(() => ComputeMessages.DecodeAtomic(payload));
    }

    [Theory]
    [InlineData(0u, 0u)]
    [InlineData(0u, uint.MaxValue)]
    [InlineData(0x8000_0000u, 0x8000_0000u)]
    public void A_map_slice_request_round_trips(uint start, uint end)
    {
        var request = new MapSliceRequest("sum-by-prefix", [1, 2, 3], start, end);
        MapSliceRequest decoded = ComputeMessages.DecodeMapSlice(ComputeMessages.Encode(request));
        Assert.Equal(request.Function, decoded.Function);
        Assert.Equal(request.Argument, decoded.Argument);
        Assert.Equal(start, decoded.Start);
        Assert.Equal(end, decoded.End);
    }

    [Fact]
    public void A_map_slice_request_ending_before_it_starts_throws_ProtocolException() =>
        Assert.Throws<ProtocolException>(() => ComputeMessages.DecodeMapSlice(ComputeMessages.Encode(new MapSliceRequest("f", [], 10, 9))));

    [Theory]
    [InlineData((byte)ClaimOutcome.Found, 0L, "0102")]
    [InlineData((byte)ClaimOutcome.Claimed, 12345L, "")]
    [InlineData((byte)ClaimOutcome.Wait, 0L, "")]
    public void A_claim_answer_round_trips(byte outcome, long token, string valueHex)
    {
        byte[] value = Convert.FromHexString(valueHex);
        (ClaimOutcome decodedOutcome, long decodedToken, byte[] decodedValue) = ComputeMessages.DecodeClaim(ComputeMessages.EncodeClaim((ClaimOutcome)outcome, token, value));
        Assert.Equal((ClaimOutcome)outcome, decodedOutcome);
        Assert.Equal(token, decodedToken);
        Assert.Equal(value, decodedValue);
    }

    [Fact]
    public void An_unknown_claim_outcome_throws_ProtocolException()
    {
        byte[] payload = ComputeMessages.EncodeClaim(ClaimOutcome.Wait, 0, []);
        payload[0] = 3;
        Assert.Throws<ProtocolException>(() => ComputeMessages.DecodeClaim(payload));
    }

    [Fact]
    public void Slice_records_without_answers_round_trip_with_no_trailer()
    {
        var message = new SliceRecordsMessage(0x1000_0000, 12, [Put, Delete]);
        byte[] payload = Messages.Encode(message);
        SliceRecordsMessage decoded = Messages.DecodeSliceRecords(payload);

        Assert.Null(decoded.Answers);
        Assert.Equal(message.SliceStart, decoded.SliceStart);
        Assert.Equal(message.Epoch, decoded.Epoch);
        Assert.Equal(2, decoded.Records.Count);
        Assert.Equal(payload, Messages.Encode(decoded));

        // An empty answer list is written as none at all: the old format, byte for byte.
        Assert.Equal(payload, Messages.Encode(message with { Answers = [] }));
    }

    [Fact]
    public void Slice_records_with_answers_round_trip()
    {
        OperationAnswer[] answers = [new(1, 5, [1, 2, 3]), new(ulong.MaxValue, uint.MaxValue, []), new(0x0123_4567_89AB_CDEF, 0, new byte[300])];
        var message = new SliceRecordsMessage(0, 3, [Put], answers);
        byte[] payload = Messages.Encode(message);
        SliceRecordsMessage decoded = Messages.DecodeSliceRecords(payload);

        Assert.NotNull(decoded.Answers);
        Assert.Equal(answers.Length, decoded.Answers.Count);
        for (int i = 0; i < answers.Length; i++)
        {
            Assert.Equal(answers[i].Id, decoded.Answers[i].Id);
            Assert.Equal(answers[i].KeyHash, decoded.Answers[i].KeyHash);
            Assert.Equal(answers[i].Answer, decoded.Answers[i].Answer);
        }

        Assert.Single(decoded.Records);
        Assert.Equal(Put.Value, decoded.Records[0].Value);
        Assert.Equal(payload, Messages.Encode(decoded));
    }

    [Fact]
    public void Slice_records_with_answers_truncated_anywhere_but_at_the_trailer_throw_ProtocolException()
    {
        byte[] withoutTrailer = Messages.Encode(new SliceRecordsMessage(0, 3, [Put, Delete]));
        byte[] payload = Messages.Encode(new SliceRecordsMessage(0, 3, [Put, Delete], [new OperationAnswer(7, 0x1234, [1, 2]), new OperationAnswer(8, uint.MaxValue, [3])]));
        for (int length = 0; length < payload.Length; length++)
        {
            if (length == withoutTrailer.Length)
            {
                // The trailer is optional: cut exactly before it, the message is whole without answers.
                Assert.Null(Messages.DecodeSliceRecords(payload[..length]).Answers);
                continue;
            }

            byte[] truncated = payload[..length];
            Exception? ex = Record.Exception(() => Messages.DecodeSliceRecords(truncated));
            Assert.True(ex is ProtocolException, $"first {length} of {payload.Length} bytes: {ex?.GetType().Name ?? "no exception"}");
        }

        Assert.Throws<ProtocolException>(() => Messages.DecodeSliceRecords([.. payload, 0]));
    }

    [Fact]
    public void A_trailer_claiming_more_answers_than_fit_throws_before_allocating()
    {
        byte[] records = Messages.Encode(new SliceRecordsMessage(0, 3, [Delete]));
        byte[] payload = [.. records, .. new MessageWriter().U32(10_000_000).ToArray(), .. new byte[24]];
        Messages.DecodeSliceRecords(records); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<ProtocolException>(() => Messages.DecodeSliceRecords(payload));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void Mutations_of_slice_records_with_answers_only_ever_throw_ProtocolException()
    {
        byte[] valid = Messages.Encode(new SliceRecordsMessage(0, 3, [Put], [new OperationAnswer(7, 0x1234, [1, 2]), new OperationAnswer(8, uint.MaxValue, [3])]));
        var random = new Random(20261125);
        var failures = new List<string>();
        for (int i = 0; i < 3000; i++)
        {
            byte[] input = [.. valid];
            int changes = random.Next(1, 4);
            for (int c = 0; c < changes; c++)
            {
                int at = random.Next(input.Length);
                input[at] = random.Next(3) switch
                {
                    0 => (byte)(input[at] ^ (1 << random.Next(8))),
                    1 => 0xFF,
                    _ => (byte)random.Next(256),
                };
            }

            if (random.Next(4) == 0)
            {
                input = input[..random.Next(input.Length)];
            }

            try
            {
                Messages.DecodeSliceRecords(input);
            }
            catch (ProtocolException)
            {
                // The one allowed failure.
            }
#pragma warning disable CA1031 // Any other exception is the finding.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failures.Add($"{Convert.ToHexString(input)}: {ex.GetType().Name}: {ex.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(5)));
    }
}
