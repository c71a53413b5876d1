namespace SmdSs;

/// <summary>Hard limits of SMD-SS, enforced on every operation.</summary>
public static class SmdSsLimits
{
    /// <summary>The largest key, in UTF-8 bytes: 4096.</summary>
    public const int MaxKeyBytes = 4096;

    /// <summary>The largest value <see cref="SmdSsOptions.MaxValueBytes"/> may allow: 256 MiB.</summary>
    public const int MaxValueBytesCeiling = 256 << 20;

    /// <summary>
    /// Keys starting with this prefix (<c>smdss:</c>, ordinal) are SMD-SS's own (the Data
    /// Protection key ring): <see cref="ISmdSsKeyValueStore"/> and <c>IDistributedCache</c>
    /// refuse them with an <see cref="ArgumentException"/>, so no app endpoint can read or
    /// overwrite them, and map functions never see them.
    /// </summary>
    public const string ReservedKeyPrefix = "smdss:";

    /// <summary>The largest answer an entry processor may return, in bytes: 1 MiB.</summary>
    public const int MaxReplyBytes = 1 << 20;
}
