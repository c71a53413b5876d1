namespace SmdSs.Storage;

/// <summary>A run of bytes in a slice file that held no valid record and was skipped on replay.</summary>
internal readonly record struct ReplayDamage(long Offset, long Length, bool AtTail);
