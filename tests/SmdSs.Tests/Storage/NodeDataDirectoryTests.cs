using SmdSs.Model;
using SmdSs.Storage;

using SmdSs.Tests.Support;

namespace SmdSs.Tests.Storage;

/// <summary>
/// The data directory: a stable node id, an incarnation that grows by one per open, an exclusive
/// lock, a run file that tells a machine that went down under the node, and configuration errors
/// that name SmdSs:DataDirectory.
/// </summary>
public sealed class NodeDataDirectoryTests : IDisposable
{
    private const string Boot = "linux:boot-a";
    private const FsyncPolicy Policy = FsyncPolicy.EverySecond;
    private readonly TempDirectory _scratch = new();

    [Fact]
    public void Only_a_run_in_another_boot_without_a_clean_stop_means_the_machine_went_down()
    {
        using (NodeDataDirectory first = NodeDataDirectory.Open(DataPath, Boot, Policy))
        {
            Assert.False(first.FilesMayLackWrites);
        }

        // A process crash (no clean stop) in the same boot: the OS still had every write.
        using (NodeDataDirectory afterCrash = NodeDataDirectory.Open(DataPath, Boot, Policy))
        {
            Assert.False(afterCrash.FilesMayLackWrites);
            afterCrash.MarkStopped();
        }

        // A clean stop, then a reboot: the files were synced at the stop.
        using (NodeDataDirectory afterReboot = NodeDataDirectory.Open(DataPath, "linux:boot-b", Policy))
        {
            Assert.False(afterReboot.FilesMayLackWrites);
        }

        // No clean stop, and another boot: the machine went down under the node.
        using (NodeDataDirectory afterPowerLoss = NodeDataDirectory.Open(DataPath, "linux:boot-c", Policy))
        {
            Assert.True(afterPowerLoss.FilesMayLackWrites);
        }

        // Until the node says it gave its copies up, a crash or a stop in this boot changes nothing.
        using (NodeDataDirectory crashedWhileSuspect = NodeDataDirectory.Open(DataPath, "linux:boot-c", Policy))
        {
            Assert.True(crashedWhileSuspect.FilesMayLackWrites);
            crashedWhileSuspect.MarkRunning();
        }

        using (NodeDataDirectory next = NodeDataDirectory.Open(DataPath, "linux:boot-c", Policy))
        {
            Assert.False(next.FilesMayLackWrites);
            next.MarkStopped();
        }

        // Under FsyncPolicy.Always the files lost nothing acknowledged, whatever went down.
        using (NodeDataDirectory.Open(DataPath, "linux:boot-d", FsyncPolicy.Always))
        {
        }

        using NodeDataDirectory afterAlways = NodeDataDirectory.Open(DataPath, "linux:boot-e", Policy);
        Assert.False(afterAlways.FilesMayLackWrites);
    }

    [Fact]
    public void A_directory_without_a_run_file_or_with_a_damaged_one_tells_nothing()
    {
        using (NodeDataDirectory.Open(DataPath, Boot, Policy))
        {
        }

        File.Delete(Path.Combine(DataPath, "node.run"));
        using (NodeDataDirectory older = NodeDataDirectory.Open(DataPath, "linux:boot-b", Policy))
        {
            Assert.False(older.FilesMayLackWrites);
        }

        File.WriteAllText(Path.Combine(DataPath, "node.run"), "garbage");
        using NodeDataDirectory damaged = NodeDataDirectory.Open(DataPath, "linux:boot-c", Policy);
        Assert.False(damaged.FilesMayLackWrites);
    }

    [Fact]
    public void Boot_times_a_minute_apart_are_one_boot()
    {
        Assert.True(MachineBoot.Same("booted:1000", "booted:1001"));
        Assert.False(MachineBoot.Same("booted:1000", "booted:1002"));
        Assert.False(MachineBoot.Same("linux:a", "linux:b"));
        Assert.True(MachineBoot.Same(MachineBoot.CurrentId(), MachineBoot.CurrentId()));
    }

    public void Dispose() => _scratch.Dispose();

    private string DataPath => _scratch.Sub("data");

    [Fact]
    public void The_node_id_is_stable_and_the_incarnation_grows_by_one_per_open()
    {
        string? firstId = null;
        for (int open = 1; open <= 4; open++)
        {
            using NodeDataDirectory directory = NodeDataDirectory.Open(DataPath, Boot, Policy);
            firstId ??= directory.NodeId.ToString();

            Assert.Equal(firstId, directory.NodeId.ToString());
            Assert.Equal(open, directory.Incarnation);
            Assert.True(Directory.Exists(directory.SlicesPath));
            Assert.Equal(Path.Combine(DataPath, "slices"), directory.SlicesPath);
        }

        Assert.Equal($"{firstId} 4", File.ReadAllText(Path.Combine(DataPath, "node.id")).Trim());
        Assert.False(File.Exists(Path.Combine(DataPath, "node.id.tmp")));
    }

    [Fact]
    public void Two_directories_get_different_node_ids()
    {
        using NodeDataDirectory a = NodeDataDirectory.Open(_scratch.Sub("a"), Boot, Policy);
        using NodeDataDirectory b = NodeDataDirectory.Open(_scratch.Sub("b"), Boot, Policy);

        Assert.NotEqual(a.NodeId, b.NodeId);
    }

    [Fact]
    public void A_second_open_while_the_first_is_open_throws_naming_the_DataDirectory()
    {
        using (NodeDataDirectory first = NodeDataDirectory.Open(DataPath, Boot, Policy))
        {
            var error = Assert.Throws<InvalidOperationException>(() => NodeDataDirectory.Open(DataPath, Boot, Policy));

            Assert.Contains("SmdSs:DataDirectory", error.Message, StringComparison.Ordinal);
            Assert.Contains(Path.GetFullPath(DataPath), error.Message, StringComparison.Ordinal);
            Assert.Equal(1, first.Incarnation);
        }

        // The failed open did not bump the incarnation, and the lock is free again.
        using NodeDataDirectory again = NodeDataDirectory.Open(DataPath, Boot, Policy);
        Assert.Equal(2, again.Incarnation);
    }

    [Fact]
    public async Task A_second_node_on_the_same_directory_fails_to_start_naming_the_DataDirectory()
    {
        var time = StorageTestSupport.NewTime();
        await using SmdSsNode first = StorageTestSupport.NewNode(DataPath, time);
        await first.StartAsync();
        await using SmdSsNode second = StorageTestSupport.NewNode(DataPath, time);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync());

        Assert.Contains("SmdSs:DataDirectory", error.Message, StringComparison.Ordinal);
        Assert.False(second.IsRunning);
        Assert.True(first.IsRunning);
    }

    [Fact]
    public void A_path_under_a_regular_file_throws_naming_the_DataDirectory()
    {
        string blocker = _scratch.Sub("blocker");
        File.WriteAllText(blocker, "a file, not a directory");

        var error = Assert.Throws<InvalidOperationException>(() => NodeDataDirectory.Open(Path.Combine(blocker, "data"), Boot, Policy));

        Assert.Contains("SmdSs:DataDirectory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_path_that_is_a_regular_file_throws_naming_the_DataDirectory()
    {
        string file = _scratch.Sub("file");
        File.WriteAllText(file, "a file, not a directory");

        var error = Assert.Throws<InvalidOperationException>(() => NodeDataDirectory.Open(file, Boot, Policy));

        Assert.Contains("SmdSs:DataDirectory", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("")]
    [InlineData("zzzz 1")]
    [InlineData("00000000000000ab notanumber")]
    public void An_unreadable_identity_file_throws_naming_the_DataDirectory_and_releases_the_lock(string content)
    {
        Directory.CreateDirectory(DataPath);
        File.WriteAllText(Path.Combine(DataPath, "node.id"), content);

        var error = Assert.Throws<InvalidOperationException>(() => NodeDataDirectory.Open(DataPath, Boot, Policy));
        Assert.Contains("SmdSs:DataDirectory", error.Message, StringComparison.Ordinal);

        File.Delete(Path.Combine(DataPath, "node.id"));
        using NodeDataDirectory fresh = NodeDataDirectory.Open(DataPath, Boot, Policy);
        Assert.Equal(1, fresh.Incarnation);
    }

    [Theory]
    [InlineData("00000000000000ab 99999999999999999999")] // incarnation past long.MaxValue
    [InlineData("1ffffffffffffffff 3")] // node id past 64 bits
    public void An_identity_file_with_an_overflowing_number_throws_naming_the_DataDirectory(string content)
    {
        Directory.CreateDirectory(DataPath);
        File.WriteAllText(Path.Combine(DataPath, "node.id"), content);

        Exception error = Record.Exception(() => NodeDataDirectory.Open(DataPath, Boot, Policy).Dispose())!;

        Assert.NotNull(error);
        Assert.True(
            error is InvalidOperationException && error.Message.Contains("SmdSs:DataDirectory", StringComparison.Ordinal),
            $"expected InvalidOperationException naming SmdSs:DataDirectory, got {error.GetType().Name}: {error.Message}");
    }
}
