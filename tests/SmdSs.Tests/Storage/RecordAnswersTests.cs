using System.Buffers.Binary;
using System.IO.Hashing;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;
using SmdSs.Tests.Support;
using static SmdSs.Tests.Storage.StorageTestSupport;

namespace SmdSs.Tests.Storage;

/// <summary>
/// v2 records: the answers of the atomic operations a value holds are written in its record, so
/// that a node restarted on its files still knows them (and answers a retry instead of applying
/// it twice); they survive compaction and splits, and damage to them is damage to the record.
/// </summary>
public sealed class RecordAnswersTests : IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static OperationAnswer Answer(string key, ulong id, int length = 8) => new(id, KeyHash.Of(key), Value(length, (int)id));

    [Fact]
    public void A_record_with_answers_round_trips_as_v2_and_its_value_stays_where_v1_has_it()
    {
        OperationAnswer[] answers = [Answer("counter", 1), Answer("counter", 2, 0), Answer("counter", 3, 300)];
        byte[] value = Value(40, 7);
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "counter", 99, EntryExpiry.None, value, answers);

        Assert.Equal(RecordCodec.AnswersFormatVersion, encoded[RecordCodec.HeaderBytes]);
        Assert.Equal(RecordCodec.EncodedLength(7, 40, RecordCodec.TrailerLength(answers)), encoded.Length);
        Assert.Equal(value, encoded.AsSpan(RecordCodec.ValueOffset(7), 40).ToArray());
        StorageRecord record = DecodeOk(encoded, LargeMaxBody);
        Assert.Equal(value, record.Value);
        Assert.Equal(answers.Select(a => (a.Id, a.KeyHash, Convert.ToHexString(a.Answer))), record.Answers!.Select(a => (a.Id, a.KeyHash, Convert.ToHexString(a.Answer))));

        StorageRecord tombstone = DecodeOk(RecordCodec.Encode(RecordKind.Delete, "counter", 100, EntryExpiry.None, [], answers[..1]), LargeMaxBody);
        Assert.Empty(tombstone.Value);
        Assert.Equal([1ul], tombstone.Answers!.Select(a => a.Id));
    }

    [Fact]
    public void A_record_without_answers_is_the_v1_record_byte_for_byte()
    {
        byte[] v1 = RecordCodec.Encode(RecordKind.Put, "k", 5, EntryExpiry.None, [1, 2]);
        Assert.Equal(v1, RecordCodec.Encode(RecordKind.Put, "k", 5, EntryExpiry.None, [1, 2], []));
        Assert.Equal(RecordCodec.FormatVersion, v1[RecordCodec.HeaderBytes]);
        Assert.Null(DecodeOk(v1, LargeMaxBody).Answers);
    }

    [Fact]
    public void A_flipped_bit_anywhere_in_a_v2_record_is_corrupt()
    {
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "kü", 77, EntryExpiry.None, [1, 2, 3], [Answer("kü", 5, 3)]);
        var wrong = new List<string>();
        for (int position = 0; position < encoded.Length; position++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                byte[] damaged = (byte[])encoded.Clone();
                damaged[position] ^= (byte)(1 << bit);
                if (RecordCodec.TryDecode(damaged, encoded.Length - RecordCodec.HeaderBytes, out _, out _) != DecodeStatus.Corrupt)
                {
                    wrong.Add($"byte {position} bit {bit}");
                }
            }
        }

        Assert.Empty(wrong);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(31u)]
    [InlineData(40u)]
    [InlineData(uint.MaxValue)]
    public void A_v2_record_whose_answers_length_lies_is_corrupt_even_with_a_valid_crc(uint answersLength)
    {
        byte[] encoded = RecordCodec.Encode(RecordKind.Put, "k", 1, EntryExpiry.None, [9, 9], [Answer("k", 1, 10)]);
        BinaryPrimitives.WriteUInt32LittleEndian(encoded.AsSpan(encoded.Length - 4), answersLength);
        BinaryPrimitives.WriteUInt32LittleEndian(encoded.AsSpan(8), Crc32.HashToUInt32(encoded.AsSpan(RecordCodec.HeaderBytes)));

        Assert.Equal(DecodeStatus.Corrupt, RecordCodec.TryDecode(encoded, LargeMaxBody, out _, out _));
    }

    [Fact]
    public void Answers_beyond_the_limit_are_dropped_oldest_first()
    {
        OperationAnswer[] answers = [.. Enumerable.Range(1, 5).Select(i => Answer("k", (ulong)i, 20 << 10))];

        IReadOnlyList<OperationAnswer> fitting = RecordAnswers.Fitting(answers);

        Assert.Equal([3ul, 4ul, 5ul], fitting.Select(a => a.Id));
        Assert.True(RecordCodec.TrailerLength(answers) <= RecordAnswers.MaxBytes + 4);
        Assert.Equal([3ul, 4ul, 5ul], DecodeOk(RecordCodec.Encode(RecordKind.Put, "k", 1, EntryExpiry.None, [], answers), LargeMaxBody + RecordAnswers.MaxBytes).Answers!.Select(a => a.Id));
    }

    [Fact]
    public void A_record_takes_only_the_answers_about_its_own_key()
    {
        var record = new StorageRecord(RecordKind.Put, "mine", 1, EntryExpiry.None, []);
        StorageRecord attached = RecordAnswers.Attach(record, [Answer("mine", 1), Answer("theirs", 2), Answer("mine", 3)]);

        Assert.Equal([1ul, 3ul], attached.Answers!.Select(a => a.Id));
        Assert.Same(record, RecordAnswers.Attach(record, [Answer("theirs", 2)]));
        Assert.Same(record, RecordAnswers.Attach(record, null));
    }

    [Fact]
    public void A_reopened_store_reports_the_recent_answers_and_those_of_each_keys_newest_record()
    {
        long old = EpochMs;
        static long Version(long ms) => HybridTimestamp.FirstVersionAt(ms);
        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(EpochMs);
            Assert.True(store.Put("counter", Version(old), EntryExpiry.None, "1"u8.ToArray(), [Answer("counter", 1)]));
            Assert.True(store.Put("counter", Version(old + 60_000), EntryExpiry.None, "2"u8.ToArray(), [Answer("counter", 1), Answer("counter", 2)]));
            Assert.True(store.Put("counter", Version(old + 60_001), EntryExpiry.None, "3"u8.ToArray(), [Answer("counter", 3)]));
            Assert.True(store.Put("plain", Version(old + 60_002), EntryExpiry.None, "x"u8.ToArray()));
            Assert.True(store.Put("removed", Version(old + 60_003), EntryExpiry.None, "y"u8.ToArray(), [Answer("removed", 4)]));
            Assert.True(store.Delete("removed", Version(old + 60_004), [Answer("removed", 5)]));
            Assert.True(store.Put("stale", Version(old + 60_005), EntryExpiry.None, "z"u8.ToArray(), [Answer("stale", 6)]));
            Assert.True(store.Put("stale", Version(old + 60_006), EntryExpiry.None, "w"u8.ToArray()));
        }

        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        SliceLoadReport report = reopened.Load(EpochMs, answersSinceMs: old + 1);

        Assert.Equal([1ul, 2ul, 3ul, 4ul, 5ul, 6ul], report.Answers.Select(a => a.Id).Order());
        Assert.Equal(
            ["counter:3", "removed:5"],
            report.NewestAnswers.SelectMany(k => k.Answers.Select(a => $"{k.Key}:{a.Id}")).Order());
        Assert.Equal("3"u8.ToArray(), reopened.TryGet("counter", out StoredEntry? entry) ? entry.ValueInMemory : null);
    }

    [Fact]
    public void Compaction_keeps_a_v2_records_moved_sliding_deadline_and_its_answers()
    {
        var written = new EntryExpiry(0, 60_000, EpochMs + 60_000);
        using (SliceStore store = OpenWholeSlice(_scratch.Path))
        {
            store.Load(EpochMs);
            store.Put("session", 10, written, Value(30, 1), [Answer("session", 7)]);
            store.Put("garbage", 11, EntryExpiry.None, Value(3_000, 2));
            store.Delete("garbage", 12);
            Assert.True(store.ApplyTouch("session", 10, EpochMs + 90_000));
            store.FlushTouches();
            Assert.True(store.Compact(EpochMs) > 0);
            Assert.Equal(store.FileBytes, store.LiveBytes);
        }

        using SliceStore reopened = OpenWholeSlice(_scratch.Path);
        SliceLoadReport report = reopened.Load(EpochMs);
        Assert.True(reopened.TryGet("session", out StoredEntry? entry));
        Assert.Equal(EpochMs + 90_000, entry.DeadlineMs);
        Assert.Equal([7ul], report.Answers.Select(a => a.Id));
    }

    [Fact]
    public void Compaction_and_a_split_keep_the_answers_and_the_byte_accounting_exact()
    {
        using SliceStore store = OpenWholeSlice(_scratch.Path);
        store.Load(EpochMs);
        for (int i = 0; i < 40; i++)
        {
            store.Put($"k{i}", 10, EntryExpiry.None, Value(30, i), [Answer($"k{i}", (ulong)(100 + i))]);
            store.Put($"k{i}", 11, EntryExpiry.None, Value(30, i + 1), [Answer($"k{i}", (ulong)(200 + i))]);
            store.Put($"plain{i}", 11, EntryExpiry.None, Value(30, i));
        }

        Assert.True(store.Compact(EpochMs) > 0);
        Assert.Equal(0, store.DeadFileBytes);
        Assert.Equal(store.FileBytes, store.LiveBytes);

        string halves = _scratch.Sub("halves");
        Directory.CreateDirectory(halves);
        var memory = new MemoryBudget(long.MaxValue);
        (SliceRange low, SliceRange high) = SliceRange.Whole.SplitAt(SliceRange.Whole.Midpoint);
        SliceStore[] split = [.. new[] { low, high }.Select(r => new SliceStore(r, OsDisk.Instance, halves, FsyncPolicy.Never, memory, LargeMaxBody, StoreSettings.DefaultTombstoneRetentionMs))];
        foreach (SliceStore half in split)
        {
            half.Load(EpochMs);
        }

        store.SplitInto(split, EpochMs, () => { });
        foreach (SliceStore half in split)
        {
            half.Dispose();
        }

        var reopened = split.Select(h => new SliceStore(h.Range, OsDisk.Instance, halves, FsyncPolicy.Never, new MemoryBudget(long.MaxValue), LargeMaxBody, StoreSettings.DefaultTombstoneRetentionMs)).ToList();
        List<ulong> ids = [.. reopened.SelectMany(h => h.Load(EpochMs).Answers).Select(a => a.Id).Order()];
        Assert.Equal(Enumerable.Range(200, 40).Select(i => (ulong)i), ids);
        foreach (SliceStore half in reopened)
        {
            Assert.Equal(half.FileBytes, half.LiveBytes);
            half.Dispose();
        }
    }
}
