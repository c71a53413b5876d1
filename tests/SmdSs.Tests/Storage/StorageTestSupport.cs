using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SmdSs.Model;
using SmdSs.Storage;

namespace SmdSs.Tests.Storage;

/// <summary>What a test expects one live key to hold.</summary>
internal sealed record ModelEntry(byte[] Value, long Version, EntryExpiry Expiry);

/// <summary>Record builders, replay helpers and comparisons shared by the storage tests.</summary>
internal static class StorageTestSupport
{
    /// <summary>Generous body limit: the largest key plus 4 MiB of value.</summary>
    public const int LargeMaxBody = RecordCodec.FixedBodyBytes + SmdSsLimits.MaxKeyBytes + (4 << 20);

    public static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static long EpochMs => Epoch.ToUnixTimeMilliseconds();

    public static string SliceFileName => SliceFile.NameOf(SliceRange.Whole);

    public static SliceStore OpenWholeSlice(string directory, MemoryBudget? memory = null, FsyncPolicy policy = FsyncPolicy.Never, int maxBody = LargeMaxBody) =>
        new(SliceRange.Whole, OsDisk.Instance, directory, policy, memory ?? new MemoryBudget(long.MaxValue), maxBody, StoreSettings.DefaultTombstoneRetentionMs);

    public static StoreSettings Settings(string slicesDirectory, long maxMemoryBytes = long.MaxValue, long compactionThreshold = 1L << 40) =>
        new(slicesDirectory, FsyncPolicy.Never, maxMemoryBytes, LargeMaxBody, compactionThreshold);

    /// <summary>Four equal slices covering the hash space.</summary>
    public static IReadOnlyList<SliceRange> FourRanges() =>
    [
        new SliceRange(0x0000_0000, 0x3FFF_FFFF),
        new SliceRange(0x4000_0000, 0x7FFF_FFFF),
        new SliceRange(0x8000_0000, 0xBFFF_FFFF),
        new SliceRange(0xC000_0000, 0xFFFF_FFFF),
    ];

    /// <summary>Decodes a buffer that must hold exactly one whole, valid record.</summary>
    public static StorageRecord DecodeOk(byte[] encoded, int maxBody)
    {
        DecodeStatus status = RecordCodec.TryDecode(encoded, maxBody, out StorageRecord? record, out int consumed);
        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(encoded.Length, consumed);
        return record!;
    }

    /// <summary>A value that never contains the byte 'S' (0x53), so no magic can appear inside it.</summary>
    public static byte[] Value(int length, int seed)
    {
        byte[] value = new byte[length];
        for (int i = 0; i < length; i++)
        {
            value[i] = (byte)((seed * 31 + i * 7) % 0x50);
        }

        return value;
    }

    public static byte[] RandomValue(Random random, int length)
    {
        byte[] value = new byte[length];
        random.NextBytes(value);
        return value;
    }

    public static SmdSsNode NewNode(string dataDirectory, TimeProvider time, Action<SmdSsOptions>? configure = null)
    {
        var options = new SmdSsOptions { DataDirectory = dataDirectory, FsyncPolicy = FsyncPolicy.Always, InitialSliceCount = 1, Listen = "127.0.0.1:0" };
        configure?.Invoke(options);
        return new SmdSsNode(Options.Create(options), time);
    }

    public static FakeTimeProvider NewTime() => new(Epoch);

    /// <summary>Every record and every damaged run of a slice file's bytes.</summary>
    public static (List<(StorageRecord Record, long Offset, int Length)> Records, List<ReplayDamage> Damage) Replay(
        byte[] file, int maxBody = LargeMaxBody)
    {
        using var stream = new MemoryStream(file, writable: false);
        return Replay(stream, maxBody);
    }

    public static (List<(StorageRecord Record, long Offset, int Length)> Records, List<ReplayDamage> Damage) Replay(
        Stream stream, int maxBody = LargeMaxBody)
    {
        var records = new List<(StorageRecord, long, int)>();
        List<ReplayDamage> damage = SliceFileReader.Replay(stream, maxBody, (record, offset, length) => records.Add((record, offset, length)));
        return (records, damage);
    }

    public static (List<(StorageRecord Record, long Offset, int Length)> Records, List<ReplayDamage> Damage) ReplayFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return Replay(stream);
    }

    public static string Describe(StorageRecord record) =>
        string.Create(CultureInfo.InvariantCulture, $"{record.Kind} '{record.Key}' v{record.Version} {record.Expiry} value[{record.Value.Length}]");

    public static bool SameRecord(StorageRecord a, StorageRecord b) =>
        a.Kind == b.Kind && a.Key == b.Key && a.Version == b.Version && a.Expiry == b.Expiry && a.Value.AsSpan().SequenceEqual(b.Value);

    public static void AssertSameRecords(IReadOnlyList<StorageRecord> expected, IReadOnlyList<StorageRecord> actual, string context)
    {
        Assert.True(
            expected.Count == actual.Count,
            $"{context}: expected {expected.Count} records, got {actual.Count}: [{string.Join(", ", actual.Select(Describe))}]");
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(SameRecord(expected[i], actual[i]), $"{context}: record {i}: expected {Describe(expected[i])}, got {Describe(actual[i])}");
        }
    }

    /// <summary>The index content of some slice stores, values read back from the file when evicted.</summary>
    public static Dictionary<string, ModelEntry> Snapshot(IEnumerable<SliceStore> stores)
    {
        var snapshot = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        foreach (SliceStore store in stores)
        {
            foreach (StoredEntry entry in store.Entries)
            {
                byte[] value = entry.ValueInMemory ?? store.ReadValue(entry) ?? throw new InvalidOperationException($"'{entry.Key}' has no value.");
                snapshot.Add(entry.Key, new ModelEntry(value, entry.Version, entry.Expiry));
            }
        }

        return snapshot;
    }

    /// <summary>Asserts that two key → (value, version, expiry) maps are equal, naming the first difference.</summary>
    public static void AssertSameContent(IReadOnlyDictionary<string, ModelEntry> expected, IReadOnlyDictionary<string, ModelEntry> actual, string context)
    {
        var missing = expected.Keys.Where(k => !actual.ContainsKey(k)).ToList();
        var extra = actual.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        Assert.True(missing.Count == 0, $"{context}: {missing.Count} keys missing, e.g. '{missing.FirstOrDefault()}'");
        Assert.True(extra.Count == 0, $"{context}: {extra.Count} unexpected keys, e.g. '{extra.FirstOrDefault()}'");
        foreach ((string key, ModelEntry want) in expected)
        {
            ModelEntry got = actual[key];
            Assert.True(want.Version == got.Version, $"{context}: '{key}' version {got.Version}, expected {want.Version}");
            Assert.True(want.Expiry == got.Expiry, $"{context}: '{key}' expiry {got.Expiry}, expected {want.Expiry}");
            Assert.True(want.Value.AsSpan().SequenceEqual(got.Value), $"{context}: '{key}' value differs ({got.Value.Length} bytes, expected {want.Value.Length})");
        }
    }

    /// <summary>Folds records the way replay should: last writer wins by version, a Touch of the same version moves the deadline forward.</summary>
    public static Dictionary<string, ModelEntry> Fold(IEnumerable<StorageRecord> records)
    {
        var model = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        foreach (StorageRecord record in records)
        {
            model.TryGetValue(record.Key, out ModelEntry? old);
            switch (record.Kind)
            {
                case RecordKind.Put when old is null || old.Version < record.Version:
                    model[record.Key] = new ModelEntry(record.Value, record.Version, record.Expiry);
                    break;
                case RecordKind.Delete when old is not null && old.Version < record.Version:
                    model.Remove(record.Key);
                    break;
                case RecordKind.Touch when old is not null && old.Version == record.Version && record.Expiry.DeadlineMs > old.Expiry.DeadlineMs:
                    model[record.Key] = old with { Expiry = old.Expiry with { DeadlineMs = record.Expiry.DeadlineMs } };
                    break;
            }
        }

        return model;
    }

    /// <summary>
    /// Folds records the way a live slice applies them: as <see cref="Fold"/>, and a delete is
    /// remembered (a tombstone), so a Put of an older or equal version never brings the key back,
    /// whatever order the records arrive in.
    /// </summary>
    public static Dictionary<string, ModelEntry> FoldWithTombstones(IEnumerable<StorageRecord> records)
    {
        var model = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        var deleted = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (StorageRecord record in records)
        {
            model.TryGetValue(record.Key, out ModelEntry? old);
            long deletedAt = deleted.GetValueOrDefault(record.Key);
            switch (record.Kind)
            {
                case RecordKind.Put when (old is null || old.Version < record.Version) && deletedAt < record.Version:
                    model[record.Key] = new ModelEntry(record.Value, record.Version, record.Expiry);
                    break;
                case RecordKind.Delete:
                    deleted[record.Key] = Math.Max(deletedAt, record.Version);
                    if (old is not null && old.Version < record.Version)
                    {
                        model.Remove(record.Key);
                    }

                    break;
                case RecordKind.Touch when old is not null && old.Version == record.Version && record.Expiry.DeadlineMs > old.Expiry.DeadlineMs:
                    model[record.Key] = old with { Expiry = old.Expiry with { DeadlineMs = record.Expiry.DeadlineMs } };
                    break;
            }
        }

        return model;
    }

    public static byte[] Concat(params byte[][] parts)
    {
        var all = new byte[parts.Sum(p => p.Length)];
        int at = 0;
        foreach (byte[] part in parts)
        {
            part.CopyTo(all, at);
            at += part.Length;
        }

        return all;
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
