using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Time.Testing;
using SmdSs.Storage;
using static SmdSs.Tests.Storage.StorageTestSupport;

using SmdSs.Tests.Support;

namespace SmdSs.Tests.Storage;

/// <summary>
/// A node restarted on its data directory serves what it acknowledged before; a slice file cut
/// or corrupted while it was down costs only the damaged records, and the start repairs the file.
/// </summary>
public sealed class NodeRestartTests : IDisposable
{
    private readonly TempDirectory _scratch = new();
    private readonly FakeTimeProvider _time = NewTime();

    public void Dispose() => _scratch.Dispose();

    private string DataPath => _scratch.Sub("data");

    private string SliceFilePath => Path.Combine(DataPath, "slices", SliceFileName);

    [Fact]
    public async Task Acknowledged_sets_and_removes_survive_a_restart_with_fsync_always()
    {
        var random = new Random(21);
        var values = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        Dictionary<string, ModelEntry> before;
        await using (SmdSsNode node = NewNode(DataPath, _time, o => o.InitialSliceCount = 4))
        {
            await node.StartAsync();
            for (int op = 0; op < 400; op++)
            {
                string key = random.Next(4) == 0 ? $"ключ-{random.Next(40)}" : $"key-{random.Next(120)}";
                if (random.Next(5) == 0)
                {
                    Assert.Equal(values.Remove(key), await node.RemoveAsync(key));
                    continue;
                }

                byte[] value = RandomValue(random, random.Next(300));
                DistributedCacheEntryOptions? options = random.Next(3) switch
                {
                    0 => null,
                    1 => new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromHours(1) },
                    _ => new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(10) },
                };
                await node.SetAsync(key, value, options);
                values[key] = value;
            }

            before = Snapshot(node.Store!.SliceStores);
        }

        Assert.Equal(values.Keys.Order(StringComparer.Ordinal), before.Keys.Order(StringComparer.Ordinal));
        await using SmdSsNode restarted = NewNode(DataPath, _time, o => o.InitialSliceCount = 4);
        await restarted.StartAsync();

        AssertSameContent(before, Snapshot(restarted.Store!.SliceStores), "after restart");
        foreach ((string key, byte[] value) in values)
        {
            Assert.Equal(value, await restarted.GetAsync(key));
        }

        Assert.Equal(values.Count, restarted.Store!.Count);
    }

    [Fact]
    public async Task A_file_cut_at_random_offsets_keeps_every_record_before_the_cut_and_is_cleaned()
    {
        await WriteMixedHistoryAsync();
        byte[] original = File.ReadAllBytes(SliceFilePath);
        (var records, List<ReplayDamage> damage) = Replay(original);
        Assert.Empty(damage);

        var random = new Random(22);
        int[] cuts = [1, (int)records[0].Length - 1, (int)records[0].Length + 3, original.Length - 1, .. Enumerable.Range(0, 10).Select(_ => random.Next(1, original.Length))];
        foreach (int cut in cuts)
        {
            File.WriteAllBytes(SliceFilePath, original[..cut]);
            var whole = records.Where(r => r.Offset + r.Length <= cut).ToList();
            long cleanLength = whole.Count == 0 ? 0 : whole[^1].Offset + whole[^1].Length;
            Dictionary<string, ModelEntry> expected = Fold(whole.Select(r => r.Record));

            await using (SmdSsNode node = NewNode(DataPath, _time))
            {
                await node.StartAsync();
                AssertSameContent(expected, Snapshot(node.Store!.SliceStores), $"cut at {cut}");
                foreach ((string key, ModelEntry entry) in expected)
                {
                    Assert.Equal(entry.Value, await node.GetAsync(key));
                }
            }

            Assert.Equal(cleanLength, new FileInfo(SliceFilePath).Length);
            Assert.Empty(ReplayFile(SliceFilePath).Damage);

            await using (SmdSsNode again = NewNode(DataPath, _time))
            {
                await again.StartAsync();
                AssertSameContent(expected, Snapshot(again.Store!.SliceStores), $"second restart after cut at {cut}");
            }
        }
    }

    [Fact]
    public async Task A_corrupted_middle_record_is_dropped_alone_and_the_file_compacted_on_start()
    {
        await using (SmdSsNode node = NewNode(DataPath, _time))
        {
            await node.StartAsync();
            for (int i = 0; i < 40; i++)
            {
                await node.SetAsync($"key-{i}", Value(50 + i, i));
            }
        }

        byte[] bytes = File.ReadAllBytes(SliceFilePath);
        (var records, _) = Replay(bytes);
        var corrupted = records[20];
        bytes[corrupted.Offset + corrupted.Length - 3] ^= 0x40; // inside key-20's value
        File.WriteAllBytes(SliceFilePath, bytes);

        await using (SmdSsNode node = NewNode(DataPath, _time))
        {
            await node.StartAsync();
            for (int i = 0; i < 40; i++)
            {
                Assert.Equal(i == 20 ? null : Value(50 + i, i), await node.GetAsync($"key-{i}"));
            }
        }

        (var after, List<ReplayDamage> damageAfter) = ReplayFile(SliceFilePath);
        Assert.Empty(damageAfter);
        Assert.Equal(39, after.Count);
        Assert.Equal(bytes.Length - corrupted.Length, new FileInfo(SliceFilePath).Length);
        Assert.DoesNotContain(after, r => r.Record.Key == "key-20");
    }

    /// <summary>Puts, overwrites and removes on one slice file, with expirations that stay in the future.</summary>
    private async Task WriteMixedHistoryAsync()
    {
        var random = new Random(23);
        await using SmdSsNode node = NewNode(DataPath, _time);
        await node.StartAsync();
        for (int op = 0; op < 150; op++)
        {
            string key = $"k{random.Next(50)}";
            if (random.Next(5) == 0)
            {
                await node.RemoveAsync(key);
            }
            else
            {
                var options = random.Next(2) == 0 ? null : new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromDays(1) };
                await node.SetAsync(key, RandomValue(random, random.Next(200)), options);
            }
        }
    }
}
