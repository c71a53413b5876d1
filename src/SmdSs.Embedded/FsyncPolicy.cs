namespace SmdSs;

/// <summary>When SMD-SS forces slice-file writes to stable storage with fsync.</summary>
public enum FsyncPolicy
{
    /// <summary>
    /// fsync after every write before it is acknowledged. An acknowledged write survives a process
    /// crash and a power loss. The slowest policy.
    /// </summary>
    Always,

    /// <summary>
    /// Every write reaches the operating system before it is acknowledged (survives a process crash,
    /// kill -9 included); fsync runs once a second, so a power loss or kernel crash loses at most
    /// about the last second of writes. The default.
    /// </summary>
    EverySecond,

    /// <summary>
    /// Writes reach the operating system before they are acknowledged (survive a process crash);
    /// SMD-SS never calls fsync and the operating system flushes when it chooses.
    /// </summary>
    Never,
}
