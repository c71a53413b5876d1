namespace SmdSs.Storage;

/// <summary>
/// Small files replaced whole (the node's identity and incarnation, its run state, the saved
/// maps): a crash or power loss leaves the old content or the new, never half of one, and once
/// <see cref="Write"/> returns the new content survives a power loss.
/// </summary>
internal static class SyncedFile
{
    public static void Write(ISliceDisk disk, string path, ReadOnlySpan<byte> content)
    {
        string temp = path + ".tmp";
        using (IDiskFile file = disk.Create(temp))
        {
            file.Write(content, 0);
            file.Sync();
        }

        disk.Replace(temp, path);
        // The rename is on the disk once the journal holding it is: an fsync of the renamed file
        // commits it (ext4, XFS, btrfs; .NET cannot fsync a directory).
        using IDiskFile renamed = disk.OpenOrCreate(path);
        renamed.Sync();
    }
}
