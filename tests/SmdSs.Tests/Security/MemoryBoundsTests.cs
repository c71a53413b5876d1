using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using SmdSs.Compute;
using SmdSs.Model;
using SmdSs.Storage;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Security;

/// <summary>
/// What deletes and operation answers cost in memory is counted against MaxMemoryBytes and
/// bounded: a tombstone lives for the tombstone retention, answers are kept up to 256 MiB.
/// </summary>
public sealed class MemoryBoundsTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task A_million_removes_of_missing_keys_cost_their_tombstones_in_the_budget_until_the_retention_ends()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using SmdSsNode node = await TestNodes.StartAsync(_directory.Path, time, o => o.FsyncPolicy = FsyncPolicy.Never);
        FlatFileStore store = node.Store!;
        long before = store.Memory.UsedBytes;
        const int Removes = 1_000_000;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Removes; i++)
        {
            Assert.False(await node.RemoveAsync("missing-" + i.ToString("D7", System.Globalization.CultureInfo.InvariantCulture)));
        }

        long grown = store.Memory.UsedBytes - before;
        long perTombstone = (2 * "missing-0000000".Length) + 64;
        output.WriteLine($"{Removes:N0} removes of missing keys in {clock.Elapsed.TotalSeconds:0.0} s: the budget counts {grown / (1 << 20)} MiB of tombstones ({grown / Removes} B each)");
        Assert.Equal((long)Removes * perTombstone, grown);

        // Past the retention the tombstones go, and their memory with them.
        time.Advance(TimeSpan.FromMinutes(11));
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (SliceStore slice in store.SliceStores)
        {
            slice.PruneTombstones(now);
        }

        Assert.Equal(before, store.Memory.UsedBytes);
    }

    [Fact]
    public void Operation_answers_are_kept_up_to_256_MiB_and_counted_in_the_budget()
    {
        var budget = new MemoryBudget(1L << 30);
        var answers = new RecentOperations(60_000);
        answers.CountAgainst(budget);
        for (ulong id = 1; id <= 300; id++)
        {
            answers.Add(new OperationAnswer(id, (uint)id, new byte[1 << 20]), nowMs: 1_000);
        }

        output.WriteLine($"300 answers of 1 MiB: {answers.Count} kept, {answers.Bytes / (1 << 20)} MiB");
        Assert.True(answers.Bytes <= RecentOperations.MaxBytes, $"{answers.Bytes} bytes kept");
        Assert.True(answers.Count >= 250);
        Assert.Equal(answers.Bytes, budget.UsedBytes);
        Assert.False(answers.TryGet(1, out _));
        Assert.True(answers.TryGet(100, out _));

        answers.Trim(nowMs: 1_000 + 61_000);
        Assert.Equal(0, answers.Count);
        Assert.Equal(0, budget.UsedBytes);
    }

    public void Dispose() => _directory.Dispose();
}
