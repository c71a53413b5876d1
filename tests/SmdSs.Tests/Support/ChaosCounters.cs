namespace SmdSs.Tests.Support;

/// <summary>How many messages met each fault (for the test's output).</summary>
internal sealed class ChaosCounters
{
    private long _sent;
    private long _dropped;
    private long _cut;
    private long _delayed;
    private long _lateReplies;
    private long _duplicated;
    private long _reordered;
    private long _timedOut;

    public void Sent() => Interlocked.Increment(ref _sent);

    public void Dropped() => Interlocked.Increment(ref _dropped);

    public void Cut() => Interlocked.Increment(ref _cut);

    public void Delayed() => Interlocked.Increment(ref _delayed);

    public void LateReply() => Interlocked.Increment(ref _lateReplies);

    public void Duplicated() => Interlocked.Increment(ref _duplicated);

    public void Reordered() => Interlocked.Increment(ref _reordered);

    public void TimedOut() => Interlocked.Increment(ref _timedOut);

    public override string ToString() =>
        $"{Interlocked.Read(ref _sent)} messages: {Interlocked.Read(ref _dropped)} dropped, {Interlocked.Read(ref _cut)} cut by a partition, "
        + $"{Interlocked.Read(ref _delayed)} delayed, {Interlocked.Read(ref _lateReplies)} late replies, {Interlocked.Read(ref _duplicated)} duplicated, "
        + $"{Interlocked.Read(ref _reordered)} reordered, {Interlocked.Read(ref _timedOut)} timed out in the network";
}
