using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Healing;

/// <summary>
/// A node whose machine went down (power loss) comes back at once, before anyone took its slices
/// over, on files that lost the writes of its last moments (FsyncPolicy.EverySecond): played by
/// restoring a copy of its slice files taken before those writes, and by another machine boot.
/// It must serve none of its copies until they are caught up: every acknowledged write is read
/// back from every node, its own included.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class MachineWentDownTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_node_back_on_files_that_lost_their_last_writes_serves_none_of_them_until_caught_up()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3);
        await cluster.WaitSettledAsync();
        await WriteAsync(cluster, "early", "v1");

        // What the disk held at the last fsync: the files as they are now.
        const int victim = 2;
        string slices = Path.Combine(cluster.DataDirectory(victim), "slices");
        string synced = cluster.DataDirectory(victim) + "-synced";
        CopyDirectory(slices, synced);

        // Acknowledged by every replica, the victim included, and then lost from its disk.
        await WriteAsync(cluster, "early", "v2");
        await WriteAsync(cluster, "late", "v2");
        await cluster.CrashNodeAsync(victim);
        Directory.Delete(slices, recursive: true);
        CopyDirectory(synced, slices);
        cluster.PrepareNode = (index, node) =>
        {
            if (index == victim)
            {
                node.BootId = () => "linux:after-the-power-came-back";
            }
        };
        await cluster.StartNodeAsync(victim);

        // Read at once, while it still leads the slices it led before.
        await AssertEveryNodeReadsAsync(cluster);
        await cluster.WaitSettledAsync(TimeSpan.FromSeconds(40));
        await AssertEveryNodeReadsAsync(cluster);
        output.WriteLine(cluster.Describe());
    }

    private static async Task WriteAsync(InProcessCluster cluster, string prefix, string value)
    {
        for (int i = 0; i < 60; i++)
        {
            await cluster.Cache(i % 2).SetAsync($"{prefix}{i}", Encoding.UTF8.GetBytes(value), new DistributedCacheEntryOptions());
        }
    }

    private static async Task AssertEveryNodeReadsAsync(InProcessCluster cluster)
    {
        foreach (int node in cluster.Running)
        {
            foreach (string prefix in new[] { "early", "late" })
            {
                for (int i = 0; i < 60; i++)
                {
                    byte[]? value = await cluster.Cache(node).GetAsync($"{prefix}{i}");
                    Assert.True(value is not null && Encoding.UTF8.GetString(value) == "v2", $"node {node} read {prefix}{i} as {(value is null ? "nothing" : Encoding.UTF8.GetString(value))}, not the acknowledged v2");
                }
            }
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        }
    }
}
