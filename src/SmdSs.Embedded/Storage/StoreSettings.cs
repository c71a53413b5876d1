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
}
