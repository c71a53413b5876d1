using System.Buffers.Binary;
using SmdSs.Model;
using SmdSs.Storage;
using static SmdSs.Tests.Storage.StorageTestSupport;

namespace SmdSs.Tests.Storage;

/// <summary>
/// Replay of a slice file from a stream: whole records in order, and each damaged run reported
/// once with its offset, without losing any record outside the damage.
/// </summary>
public sealed class SliceFileReaderTests
{
    private const int Chunk = 1 << 20;

    [Fact]
    public void A_file_cut_at_every_offset_returns_exactly_the_records_before_the_cut()
    {
        (byte[] file, List<StorageRecord> records, List<long> starts) = BuildFile(8);

        var wrong = new List<string>();
        for (int cut = 0; cut <= file.Length; cut++)
        {
            (var got, List<ReplayDamage> damage) = Replay(file[..cut]);
            int whole = starts.Count(s => s < cut && s + Length(records, starts, s) <= cut);
            int tornIndex = starts.FindIndex(s => s < cut && s + Length(records, starts, s) > cut);

            if (got.Count != whole || !got.Select(g => g.Record).Zip(records).All(p => SameRecord(p.First, p.Second)))
            {
                wrong.Add($"cut {cut}: {got.Count} records, expected {whole}");
            }

            ReplayDamage[] expected = tornIndex < 0 ? [] : [new ReplayDamage(starts[tornIndex], cut - starts[tornIndex], AtTail: true)];
            if (!damage.SequenceEqual(expected))
            {
                wrong.Add($"cut {cut}: damage [{string.Join(", ", damage)}], expected [{string.Join(", ", expected)}]");
            }
        }

        Assert.Empty(wrong);
    }

    [Fact]
    public void A_corrupted_byte_in_record_k_loses_only_record_k()
    {
        (byte[] file, List<StorageRecord> records, List<long> starts) = BuildFile(10);

        var wrong = new List<string>();
        for (int k = 0; k < records.Count; k++)
        {
            int length = (int)Length(records, starts, starts[k]);
            for (int position = 0; position < length; position++)
            {
                if (position is >= 4 and < 8)
                {
                    continue; // the length field: see A_length_field_pointing_past_the_end_loses_only_its_record
                }

                byte[] damaged = (byte[])file.Clone();
                damaged[starts[k] + position] ^= 0xA5;
                (var got, List<ReplayDamage> damage) = Replay(damaged);

                var expectedRecords = records.Where((_, i) => i != k).ToList();
                var expectedDamage = new[] { new ReplayDamage(starts[k], length, AtTail: k == records.Count - 1) };
                string context = $"record {k} byte {position}";
                if (got.Count != expectedRecords.Count || !got.Select(g => g.Record).Zip(expectedRecords).All(p => SameRecord(p.First, p.Second)))
                {
                    wrong.Add($"{context}: got [{string.Join(", ", got.Select(g => g.Record.Key))}]");
                }

                if (!damage.SequenceEqual(expectedDamage))
                {
                    wrong.Add($"{context}: damage [{string.Join(", ", damage)}]");
                }
            }
        }

        Assert.Empty(wrong);
    }

    [Fact]
    public void Records_after_a_corrupted_record_keep_their_offsets()
    {
        (byte[] file, List<StorageRecord> records, List<long> starts) = BuildFile(5);
        file[starts[2] + 20] ^= 0xFF;

        (var got, _) = Replay(file);

        Assert.Equal([starts[0], starts[1], starts[3], starts[4]], got.Select(g => g.Offset));
        Assert.Equal(
            new[] { 0, 1, 3, 4 }.Select(i => (int)Length(records, starts, starts[i])),
            got.Select(g => g.Length));
    }

    [Theory]
    [InlineData(5)] // second byte: +16 KiB
    [InlineData(6)] // third byte: +4 MiB, still under the limit
    public void A_length_field_pointing_past_the_end_loses_only_its_record(int lengthByte)
    {
        // A damaged length that is still under the limit but reaches past the end of the file: the
        // record is corrupt, but the whole records after it are intact and must be replayed.
        (byte[] file, List<StorageRecord> records, List<long> starts) = BuildFile(6);
        const int k = 2;
        file[starts[k] + lengthByte] ^= 0x40;
        Assert.True(
            BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)starts[k] + 4)) + RecordCodec.HeaderBytes > file.Length - starts[k],
            "the damaged length must reach past the end of the file");

        (var got, List<ReplayDamage> damage) = Replay(file);

        AssertSameRecords(records.Where((_, i) => i != k).ToList(), got.Select(g => g.Record).ToList(), "replay");
        Assert.Equal([new ReplayDamage(starts[k], Length(records, starts, starts[k]), AtTail: false)], damage);
    }

    [Fact]
    public void A_record_held_inside_a_corrupted_value_is_not_replayed()
    {
        // Values are opaque bytes and may well hold a whole record (a cache of cache files, say).
        // When the outer record is damaged, its value must not come back as a record of its own.
        byte[] inner = Encode(new StorageRecord(RecordKind.Put, "phantom", long.MaxValue, EntryExpiry.None, [6, 6, 6]));
        var records = new List<StorageRecord>
        {
            new(RecordKind.Put, "first", 1, EntryExpiry.None, [1]),
            new(RecordKind.Put, "carrier", 2, EntryExpiry.None, Concat(Value(10, 2), inner, Value(10, 3))),
            new(RecordKind.Put, "last", 3, EntryExpiry.None, [3]),
        };
        byte[] file = Concat([.. records.Select(Encode)]);
        int carrierStart = Encode(records[0]).Length;
        file[carrierStart + RecordCodec.HeaderBytes + 4] ^= 0x01; // the carrier's version: its CRC fails

        (var got, List<ReplayDamage> damage) = Replay(file);

        AssertSameRecords([records[0], records[2]], got.Select(g => g.Record).ToList(), "replay");
        Assert.Equal([new ReplayDamage(carrierStart, Encode(records[1]).Length, AtTail: false)], damage);
    }

    [Fact]
    public void Garbage_before_the_first_record_is_one_damaged_run()
    {
        (byte[] file, List<StorageRecord> records, _) = BuildFile(4);
        byte[] garbage = "not a record at all, SMD, SM, S"u8.ToArray();

        (var got, List<ReplayDamage> damage) = Replay(Concat(garbage, file));

        AssertSameRecords(records, got.Select(g => g.Record).ToList(), "replay");
        Assert.Equal([new ReplayDamage(0, garbage.Length, AtTail: false)], damage);
        Assert.Equal(garbage.Length, got[0].Offset);
    }

    [Fact]
    public void Garbage_between_records_including_a_false_magic_is_one_damaged_run()
    {
        (byte[] file, List<StorageRecord> records, List<long> starts) = BuildFile(5);
        byte[] fakeHeader = new byte[RecordCodec.HeaderBytes];
        "SMDR"u8.CopyTo(fakeHeader);
        BinaryPrimitives.WriteUInt32LittleEndian(fakeHeader.AsSpan(4), 40); // plausible length, wrong CRC
        byte[] garbage = Concat("junk"u8.ToArray(), fakeHeader, new byte[60], "SMDR\u0001\0\0\0"u8.ToArray(), "tail junk"u8.ToArray());
        int at = (int)starts[3];

        byte[] damaged = Concat(file[..at], garbage, file[at..]);
        (var got, List<ReplayDamage> damage) = Replay(damaged);

        AssertSameRecords(records, got.Select(g => g.Record).ToList(), "replay");
        Assert.Equal([new ReplayDamage(at, garbage.Length, AtTail: false)], damage);
        Assert.Equal(at + garbage.Length, got[3].Offset);
    }

    [Fact]
    public void Garbage_after_the_last_record_is_tail_damage()
    {
        (byte[] file, List<StorageRecord> records, _) = BuildFile(3);
        byte[] garbage = "trailing garbage without magic"u8.ToArray();

        (var got, List<ReplayDamage> damage) = Replay(Concat(file, garbage));

        AssertSameRecords(records, got.Select(g => g.Record).ToList(), "replay");
        Assert.Equal([new ReplayDamage(file.Length, garbage.Length, AtTail: true)], damage);
    }

    [Fact]
    public void An_empty_file_has_no_records_and_no_damage()
    {
        (var got, List<ReplayDamage> damage) = Replay([]);

        Assert.Empty(got);
        Assert.Empty(damage);
    }

    [Fact]
    public void A_record_larger_than_the_read_chunk_is_read_whole()
    {
        byte[] big = RandomValue(new Random(3), 3 << 20);
        var records = new List<StorageRecord>
        {
            new(RecordKind.Put, "before", 1, EntryExpiry.None, [1, 2, 3]),
            new(RecordKind.Put, "big", 2, new EntryExpiry(100, 0, 100), big),
            new(RecordKind.Delete, "after", 3, EntryExpiry.None, []),
        };
        byte[] file = Concat([.. records.Select(Encode)]);

        (var got, List<ReplayDamage> damage) = Replay(file);

        Assert.Empty(damage);
        AssertSameRecords(records, got.Select(g => g.Record).ToList(), "replay");
        Assert.Equal(Encode(records[0]).Length, got[1].Offset);
        Assert.Equal(Encode(records[1]).Length, got[1].Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(11)]
    public void A_record_whose_start_straddles_the_chunk_boundary_after_a_record_is_read(int bytesBeforeBoundary)
    {
        // The first record ends exactly `bytesBeforeBoundary` bytes before the 1 MiB boundary.
        const string firstKey = "first";
        int firstValue = Chunk - bytesBeforeBoundary - RecordCodec.EncodedLength(firstKey.Length, 0);
        var records = new List<StorageRecord>
        {
            new(RecordKind.Put, firstKey, 1, EntryExpiry.None, Value(firstValue, 1)),
            new(RecordKind.Put, "second", 2, EntryExpiry.None, Value(500, 2)),
            new(RecordKind.Put, "third", 3, EntryExpiry.None, Value(10, 3)),
        };
        byte[] file = Concat([.. records.Select(Encode)]);
        Assert.Equal(Chunk - bytesBeforeBoundary, Encode(records[0]).Length);

        (var got, List<ReplayDamage> damage) = Replay(file);

        Assert.Empty(damage);
        AssertSameRecords(records, got.Select(g => g.Record).ToList(), "replay");
        Assert.Equal(Chunk - bytesBeforeBoundary, got[1].Offset);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void A_magic_split_across_the_chunk_boundary_after_garbage_is_found(int bytesBeforeBoundary)
    {
        byte[] garbage = new byte[Chunk - bytesBeforeBoundary];
        Array.Fill(garbage, (byte)'x');
        var records = new List<StorageRecord>
        {
            new(RecordKind.Put, "after-garbage", 7, EntryExpiry.None, Value(40, 4)),
            new(RecordKind.Touch, "second", 8, new EntryExpiry(0, 10, 20), []),
        };
        byte[] file = Concat([garbage, .. records.Select(Encode)]);

        (var got, List<ReplayDamage> damage) = Replay(file);

        AssertSameRecords(records, got.Select(g => g.Record).ToList(), "replay");
        Assert.Equal(garbage.Length, got[0].Offset);
        Assert.Equal([new ReplayDamage(0, garbage.Length, AtTail: false)], damage);
    }

    [Fact]
    public void Short_reads_from_the_stream_give_the_same_replay()
    {
        (byte[] file, _, List<long> starts) = BuildFile(8);
        file[starts[2] + 30] ^= 0x10;
        byte[] withGarbage = Concat(file[..(int)starts[5]], "garbage SM SMD"u8.ToArray(), file[(int)starts[5]..^7]);

        (var expectedRecords, List<ReplayDamage> expectedDamage) = Replay(withGarbage);
        using var trickle = new TrickleStream(withGarbage);
        (var got, List<ReplayDamage> damage) = Replay(trickle);

        Assert.Equal(expectedDamage, damage);
        Assert.Equal(expectedRecords.Select(r => (r.Offset, r.Length)), got.Select(r => (r.Offset, r.Length)));
        Assert.Equal(3, damage.Count); // the flipped byte, the garbage, the torn tail
    }

    /// <summary>N records of every kind, with unicode keys; values never hold the magic.</summary>
    private static (byte[] File, List<StorageRecord> Records, List<long> Starts) BuildFile(int count)
    {
        var records = new List<StorageRecord>();
        for (int i = 0; i < count; i++)
        {
            var kind = (RecordKind)((i % 3) + 1);
            byte[] value = kind == RecordKind.Put ? Value(i * 13 % 50, i) : [];
            var expiry = new EntryExpiry(i * 1000, i % 2 * 500, i * 900);
            records.Add(new StorageRecord(kind, $"key-{i}-ключ", 100 + i, expiry, value));
        }

        var starts = new List<long>();
        long at = 0;
        foreach (StorageRecord record in records)
        {
            starts.Add(at);
            at += Encode(record).Length;
        }

        return (Concat([.. records.Select(Encode)]), records, starts);
    }

    private static long Length(List<StorageRecord> records, List<long> starts, long start) =>
        Encode(records[starts.IndexOf(start)]).Length;

    private static byte[] Encode(StorageRecord record) =>
        RecordCodec.Encode(record.Kind, record.Key, record.Version, record.Expiry, record.Value);

    /// <summary>A read-only stream that returns at most a few bytes per read.</summary>
    private sealed class TrickleStream(byte[] data) : Stream
    {
        private int _position;
        private int _call;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(Math.Min(count, (_call++ % 13) + 1), data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
