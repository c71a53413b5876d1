using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;
using SmdSs.Tests.Storage;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Compute;

/// <summary>
/// A node that joins gets its slices by catch-up; the values of counters arrive with the answers
/// of the increments behind them, written into its own records (so that it answers a retry of
/// one of them also after a restart, should it take the slice over).
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class CaughtUpAnswersTests
{
    [Fact]
    public async Task A_joining_node_writes_the_answers_behind_the_values_it_is_sent_into_its_files()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();
        string[] counters = [.. Enumerable.Range(0, 24).Select(i => "joined:" + i)];
        for (int i = 0; i < counters.Length; i++)
        {
            await cluster.Node(i % 3).IncrementAsync(counters[i], i + 1);
        }

        int joined = await cluster.AddNodeAsync();
        string joinedId = cluster.Node(joined).NodeId!;
        // Of 16 slices × 3 copies on 4 nodes, the new one's share is 12; most of it is enough.
        await Eventually.TrueAsync(
            () => cluster.IsSettled() && cluster.Node(joined).GetStatus().Slices.Count(s => s.InSync.Contains(joinedId)) >= 9,
            TimeSpan.FromSeconds(60), "the joined node caught up on most of its share");

        Dictionary<string, StorageRecord> held = ReadNewestRecords(Path.Combine(cluster.DataDirectory(joined), "slices"));
        List<string> counted = [.. counters.Where(held.ContainsKey)];
        Assert.NotEmpty(counted);
        Assert.All(counted, key =>
        {
            StorageRecord record = held[key];
            Assert.True(record.Answers is { Count: > 0 }, $"{key} arrived without the answer of its increment");
            Assert.Contains(record.Answers!, a => a.KeyHash == KeyHash.Of(key));
        });
    }

    // The newest record of each key in the node's slice files, read while the node runs.
    private static Dictionary<string, StorageRecord> ReadNewestRecords(string slices)
    {
        var newest = new Dictionary<string, StorageRecord>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(slices, "*" + SliceFile.Extension))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            SliceFileReader.Replay(stream, StorageTestSupport.LargeMaxBody + RecordAnswers.MaxBytes + 4, (record, _, _) =>
            {
                if (!newest.TryGetValue(record.Key, out StorageRecord? known) || known.Version <= record.Version)
                {
                    newest[record.Key] = record;
                }
            });
        }

        return newest;
    }
}
