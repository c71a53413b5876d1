namespace SmdSs.Diagnostics;

/// <summary>Running totals of the repair work a node did, for its status (the metrics count the same events).</summary>
internal sealed class RepairTally
{
    private long _fullCatchUps;
    private long _fullBytes;
    private long _deltaCatchUps;
    private long _deltaBytes;
    private long _buckets;
    private long _keys;
    private long _splits;

    public void CaughtUp(bool delta, long bytes)
    {
        Interlocked.Increment(ref delta ? ref _deltaCatchUps : ref _fullCatchUps);
        Interlocked.Add(ref delta ? ref _deltaBytes : ref _fullBytes, bytes);
    }

    public void Repaired(int buckets, int keys)
    {
        Interlocked.Add(ref _buckets, buckets);
        Interlocked.Add(ref _keys, keys);
    }

    public void Split() => Interlocked.Increment(ref _splits);

    public SmdSsRepairStatus Snapshot() => new(
        Interlocked.Read(ref _fullCatchUps), Interlocked.Read(ref _fullBytes),
        Interlocked.Read(ref _deltaCatchUps), Interlocked.Read(ref _deltaBytes),
        Interlocked.Read(ref _buckets), Interlocked.Read(ref _keys), Interlocked.Read(ref _splits));
}
