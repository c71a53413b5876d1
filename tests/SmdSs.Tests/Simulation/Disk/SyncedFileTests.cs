using System.Text;
using SmdSs.Storage;
using Xunit;

namespace SmdSs.Tests.Simulation.Disk;

/// <summary>The node's small files (identity and incarnation, run state, saved maps) on a disk that loses power.</summary>
public sealed class SyncedFileTests
{
    private const string Directory = "/node";
    private const string File = "/node/identity";

    [Fact]
    public void A_file_written_survives_a_power_loss_right_after()
    {
        for (int seed = 1; seed <= 200; seed++)
        {
            SimulatedDisk disk = Disk(seed);
            SyncedFile.Write(disk, File, "one"u8);
            SyncedFile.Write(disk, File, "two"u8);

            disk.Crash();
            disk.Restart(powerLoss: true);

            Assert.Equal("two", Read(disk));
        }
    }

    [Fact]
    public void A_crash_at_any_step_of_a_write_leaves_the_old_content_or_the_new()
    {
        // A write makes five changes: create, write, fsync, rename, fsync.
        for (int crashAt = 1; crashAt <= 5; crashAt++)
        {
            for (int seed = 1; seed <= 50; seed++)
            {
                SimulatedDisk disk = Disk(seed);
                SyncedFile.Write(disk, File, "one"u8);
                disk.ArmCrash(crashAt);

                Assert.Throws<SimulatedCrashException>(() => SyncedFile.Write(disk, File, "two"u8));

                disk.Crash();
                disk.Restart(powerLoss: seed % 2 == 0);

                Assert.Contains(Read(disk), new[] { "one", "two" });
            }
        }
    }

    [Fact]
    public void Without_the_fsync_after_the_rename_a_power_loss_can_bring_the_old_content_back()
    {
        // What the write did before: the side file synced, then renamed, and nothing after.
        int old = 0;
        for (int seed = 1; seed <= 200; seed++)
        {
            SimulatedDisk disk = Disk(seed);
            SyncedFile.Write(disk, File, "one"u8);
            using (IDiskFile side = disk.Create(File + ".tmp"))
            {
                side.Write("two"u8, 0);
                side.Sync();
            }

            disk.Replace(File + ".tmp", File);
            disk.Crash();
            disk.Restart(powerLoss: true);
            old += Read(disk) == "one" ? 1 : 0;
        }

        Assert.InRange(old, 1, 199);
    }

    private static SimulatedDisk Disk(int seed)
    {
        var disk = new SimulatedDisk(new Random(seed));
        disk.CreateDirectory(Directory);
        return disk;
    }

    private static string Read(SimulatedDisk disk) => Encoding.ASCII.GetString(disk.Contents(File) ?? []);
}
