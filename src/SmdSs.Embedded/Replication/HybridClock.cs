using SmdSs.Model;

namespace SmdSs.Replication;

/// <summary>
/// Hybrid logical clock that versions writes (<see cref="HybridTimestamp"/>): it follows wall-clock milliseconds, never goes backwards (also when the wall clock does), and
/// orders writes within one millisecond by the logical counter. Pure: the caller passes the time.
/// </summary>
internal sealed class HybridClock
{
    private long _last;

    public long Last => Interlocked.Read(ref _last);

    /// <summary>A version greater than every version this clock has issued or observed.</summary>
    public long Next(long physicalMs)
    {
        long physical = HybridTimestamp.FirstVersionAt(physicalMs);
        while (true)
        {
            long last = Interlocked.Read(ref _last);
            long next = Math.Max(physical, last + 1);
            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return next;
            }
        }
    }

    /// <summary>Moves the clock past a version seen elsewhere (a peer's write, or the files at start-up).</summary>
    public void Observe(long version)
    {
        long last = Interlocked.Read(ref _last);
        while (version > last)
        {
            long seen = Interlocked.CompareExchange(ref _last, version, last);
            if (seen == last)
            {
                return;
            }

            last = seen;
        }
    }
}
