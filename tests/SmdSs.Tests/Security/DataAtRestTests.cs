using SmdSs.Tests.Support;

namespace SmdSs.Tests.Security;

/// <summary>
/// The data directory on Unix: created private (0700, files 0600), tightened when an older
/// release left it wider, and refused, naming SmdSs:DataDirectory, when other users can write to it.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataAtRestTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task A_new_data_directory_and_every_file_in_it_are_private_to_the_nodes_user()
    {
        using var directory = new TempDirectory();
        string data = directory.Sub("node");
        await using (SmdSsNode node = await TestNodes.StartAsync(data))
        {
            await node.SetAsync("k", new byte[] { 1, 2, 3 });
            AssertPrivate(data);
        }

        // Stopping writes the cluster state and syncs the slices: still private.
        AssertPrivate(data);
    }

    [Fact]
    public async Task A_data_directory_an_older_release_left_readable_is_tightened_at_start_and_keeps_its_data()
    {
        using var directory = new TempDirectory();
        string data = directory.Sub("node");
        await using (SmdSsNode node = await TestNodes.StartAsync(data))
        {
            await node.SetAsync("kept", new byte[] { 7 });
        }

        const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        foreach (string entry in Directory.EnumerateFileSystemEntries(data, "*", SearchOption.AllDirectories).Prepend(data))
        {
            File.SetUnixFileMode(entry, Directory.Exists(entry) ? Readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute : Readable);
        }

        await using (SmdSsNode node = await TestNodes.StartAsync(data))
        {
            Assert.Equal([7], await node.GetAsync("kept"));
            AssertPrivate(data);
        }
    }

    [Theory]
    [InlineData(UnixFileMode.OtherWrite)]
    [InlineData(UnixFileMode.GroupWrite)]
    public async Task A_data_directory_other_users_can_write_to_is_refused_naming_SmdSs_DataDirectory(UnixFileMode widening)
    {
        using var directory = new TempDirectory();
        string data = directory.Sub("node");
        Directory.CreateDirectory(data);
        File.SetUnixFileMode(data, Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute | widening);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestNodes.StartAsync(data));
        Assert.Contains($"SmdSs:DataDirectory '{data}' is refused: other users can write to it", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(data));
    }

    private static void AssertPrivate(string data)
    {
        Assert.Equal(Private, File.GetUnixFileMode(data));
        List<string> entries = [.. Directory.EnumerateFileSystemEntries(data, "*", SearchOption.AllDirectories)];
        Assert.Contains(entries, e => e.EndsWith(".smd", StringComparison.Ordinal));
        foreach (string entry in entries)
        {
            UnixFileMode expected = Directory.Exists(entry) ? Private : PrivateFile;
            Assert.True(File.GetUnixFileMode(entry) == expected, $"{entry} has mode {File.GetUnixFileMode(entry)}, not {expected}");
        }
    }
}
