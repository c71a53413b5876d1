using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Compatibility;

/// <summary>
/// A data directory that a node of the previous build wrote (commit 7bdc259, the last before the
/// deterministic core's changes; how it was made: <c>PreviousBuild/README.md</c>) loads in this
/// build with every key as it was written, and the node serves on and restarts on it.
/// </summary>
public sealed class PreviousBuildFilesTests
{
    private const string FixtureNodeId = "522950dbe596b60e";

    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "Compatibility", "PreviousBuild", "node");

    [Fact]
    public async Task A_data_directory_of_the_previous_build_loads_with_every_key_and_the_node_serves_on_it()
    {
        using var temp = new TempDirectory();
        string data = temp.Sub("data");
        CopyDirectory(Fixture, data);

        SmdSsNode node = await StartAsync(data);
        try
        {
            Assert.Equal(FixtureNodeId, node.NodeId);
            await AssertWrittenKeysAsync(node);

            // Written by this build on top, then read again after a restart with the old keys.
            Assert.Equal(43, await node.IncrementAsync("counter"));
            await node.SetStringAsync("this build", "new");
        }
        finally
        {
            await node.StopAsync();
        }

        node = await StartAsync(data);
        try
        {
            Assert.Equal("new", await node.GetStringAsync("this build"));
            Assert.Equal(44, await node.IncrementAsync("counter"));
            Assert.Equal("value 7", await node.GetStringAsync("plain:7"));
        }
        finally
        {
            await node.StopAsync();
        }
    }

    private static async Task AssertWrittenKeysAsync(SmdSsNode node)
    {
        Assert.Equal("swapped", await node.GetStringAsync("plain:0"));
        for (int i = 1; i < 200; i++)
        {
            Assert.Equal($"value {i}", await node.GetStringAsync($"plain:{i}"));
        }

        Assert.Equal("until 2100", await node.GetStringAsync("absolute"));
        Assert.True(await node.GetTimeToLiveAsync("absolute") > TimeSpan.FromDays(365));
        Assert.Equal("slides a year", await node.GetStringAsync("sliding"));
        Assert.Null(await node.GetAsync("expired"));
        Assert.Null(await node.GetAsync("removed"));
        Assert.Equal("abcd", await node.GetStringAsync("appended"));
        byte[] large = (await node.GetAsync("large"))!;
        Assert.Equal(100_000, large.Length);
        Assert.True(large.Select((b, i) => b == (byte)(i % 251)).All(same => same));
    }

    private static async Task<SmdSsNode> StartAsync(string data)
    {
        // A day after the fixture was written (2026-12-08): its sliding year has not run out, on any day this test runs.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 9, 0, 0, 0, TimeSpan.Zero));
        var node = new SmdSsNode(Options.Create(new SmdSsOptions { DataDirectory = data, Listen = "127.0.0.1:0", FsyncPolicy = FsyncPolicy.Always }), time);
        await node.StartAsync();
        return node;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (string directory in Directory.EnumerateDirectories(from))
        {
            CopyDirectory(directory, Path.Combine(to, Path.GetFileName(directory)));
        }
    }
}
