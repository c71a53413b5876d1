using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;
using static SmdSs.Tests.Storage.StorageTestSupport;

using SmdSs.Tests.Support;

namespace SmdSs.Tests.Storage;

/// <summary>
/// The node's store over several slice files: reopened with the same layout it holds exactly the
/// same content; reopened with another layout it adopts the old files' content and deletes them.
/// </summary>
public sealed class FlatFileStoreRestartTests : IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private string SlicesPath => _scratch.Sub("slices");

    [Fact]
    public void Random_writes_across_four_slices_survive_a_restart_exactly()
    {
        Dictionary<string, ModelEntry> model = WriteRandom(FourRanges(), seed: 11, operations: 2_000);

        Assert.Equal(FourRanges(), FlatFileStore.DiscoverRanges(OsDisk.Instance, SlicesPath));
        using var reopened = new FlatFileStore(Settings(SlicesPath));
        StoreLoadReport report = reopened.Open(FourRanges(), EpochMs);

        Assert.Empty(report.AdoptedFiles);
        Assert.All(report.Slices, s => Assert.Empty(s.Damage));
        Assert.Equal(model.Count, report.EntriesLoaded);
        Assert.Equal(model.Count, reopened.Count);
        AssertSameContent(model, Snapshot(reopened.SliceStores), "after restart");
        Assert.All(reopened.SliceStores, store => Assert.All(store.Entries, e => Assert.True(store.Range.Contains(KeyHash.Of(e.Key)), e.Key)));
    }

    [Fact]
    public void Files_of_an_older_layout_are_adopted_into_the_new_slices_and_deleted()
    {
        Dictionary<string, ModelEntry> model = WriteRandom(FourRanges(), seed: 12, operations: 1_500);
        IReadOnlyList<SliceRange> halves = [new SliceRange(0, 0x7FFF_FFFF), new SliceRange(0x8000_0000, uint.MaxValue)];

        using (var relaid = new FlatFileStore(Settings(SlicesPath)))
        {
            StoreLoadReport report = relaid.Open(halves, EpochMs);

            Assert.Equal(
                FourRanges().Select(r => Path.Combine(SlicesPath, SliceFile.NameOf(r))).Order(StringComparer.Ordinal),
                report.AdoptedFiles.Order(StringComparer.Ordinal));
            AssertSameContent(model, Snapshot(relaid.SliceStores), "after adoption");
            Assert.All(relaid.SliceStores, store => Assert.All(store.Entries, e => Assert.True(store.Range.Contains(KeyHash.Of(e.Key)), e.Key)));
        }

        Assert.Equal(
            halves.Select(SliceFile.NameOf).Order(StringComparer.Ordinal),
            Directory.EnumerateFiles(SlicesPath).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal));
        Assert.Equal(halves, FlatFileStore.DiscoverRanges(OsDisk.Instance, SlicesPath));

        using var reopened = new FlatFileStore(Settings(SlicesPath));
        StoreLoadReport second = reopened.Open(halves, EpochMs);
        Assert.Empty(second.AdoptedFiles);
        AssertSameContent(model, Snapshot(reopened.SliceStores), "after a second restart");
    }

    [Fact]
    public void DiscoverRanges_rejects_files_that_do_not_cover_the_hash_space()
    {
        Directory.CreateDirectory(SlicesPath);
        Assert.Null(FlatFileStore.DiscoverRanges(OsDisk.Instance, SlicesPath));

        File.WriteAllBytes(Path.Combine(SlicesPath, SliceFile.NameOf(new SliceRange(0, 0x7FFF_FFFF))), []);
        Assert.Null(FlatFileStore.DiscoverRanges(OsDisk.Instance, SlicesPath));

        File.WriteAllBytes(Path.Combine(SlicesPath, SliceFile.NameOf(new SliceRange(0x8000_0000, uint.MaxValue))), []);
        Assert.Equal(2, FlatFileStore.DiscoverRanges(OsDisk.Instance, SlicesPath)!.Count);
    }

    private Dictionary<string, ModelEntry> WriteRandom(IReadOnlyList<SliceRange> ranges, int seed, int operations)
    {
        var random = new Random(seed);
        var model = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        long version = 1;
        using var store = new FlatFileStore(Settings(SlicesPath));
        store.Open(ranges, EpochMs);
        for (int op = 0; op < operations; op++)
        {
            string key = random.Next(5) == 0 ? $"ключ-{random.Next(200)}-鍵" : $"key-{random.Next(400)}";
            SliceStore slice = store.SliceFor(KeyHash.Of(key));
            Assert.True(slice.Range.Contains(KeyHash.Of(key)));
            if (random.Next(4) == 0)
            {
                Assert.Equal(model.Remove(key), slice.Delete(key, ++version));
            }
            else
            {
                long deadline = random.Next(3) == 0 ? EpochMs + random.Next(60_000, 600_000) : 0;
                var expiry = new EntryExpiry(deadline, 0, deadline);
                byte[] value = RandomValue(random, random.Next(400));
                Assert.True(slice.Put(key, ++version, expiry, value));
                model[key] = new ModelEntry(value, version, expiry);
            }
        }

        AssertSameContent(model, Snapshot(store.SliceStores), "before restart");
        return model;
    }
}
