namespace SmdSs.Storage;

/// <summary>What the flat-file store needs from the options, resolved and validated.</summary>
internal sealed record StoreSettings(
    string SlicesDirectory,
    FsyncPolicy FsyncPolicy,
    long MaxMemoryBytes,
    int MaxBodyBytes,
    long CompactionDeadBytesThreshold,
    long TombstoneRetentionMs = StoreSettings.DefaultTombstoneRetentionMs)
{
    public const long DefaultTombstoneRetentionMs = 600_000;

    /// <summary>The file system of the slice files: the operating system's unless a test simulates one.</summary>
    public ISliceDisk Disk { get; init; } = OsDisk.Instance;
}
