namespace SmdSs.Storage;

/// <summary>Bytes of keys, values and index overhead held in memory across all slices.</summary>
internal sealed class MemoryBudget(long limitBytes)
{
    private long _usedBytes;

    public long LimitBytes { get; } = limitBytes;

    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    public bool IsOver => UsedBytes > LimitBytes;

    public void Add(long bytes) => Interlocked.Add(ref _usedBytes, bytes);
}
