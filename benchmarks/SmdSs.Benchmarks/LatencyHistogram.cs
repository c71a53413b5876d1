using System.Globalization;
using System.Numerics;

namespace SmdSs.Benchmarks;

/// <summary>
/// Latencies in Stopwatch ticks, one histogram per thread: exact below 256 ticks, then 128
/// buckets per power of two (under 0.8 % error). Recording is one array increment and never
/// allocates, so measuring does not disturb what is measured.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int MaxShift = 40;
    private const ulong MaxValue = (1UL << (MaxShift + SubBucketBits + 1)) - 1;
    private readonly long[] _counts = new long[(MaxShift + 2) << SubBucketBits];

    public void Record(long ticks)
    {
        ulong value = Math.Min((ulong)Math.Max(ticks, 0), MaxValue);
        int shift = Math.Max(0, BitOperations.Log2(value) - SubBucketBits);
        _counts[(shift << SubBucketBits) + (int)(value >> shift)]++;
    }

    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
    }

    /// <summary>"index:count" for every non-empty bucket, space-separated: a histogram as one line of text, to send between processes.</summary>
    public string ToSparseText() => string.Join(' ', _counts
        .Select((count, index) => (count, index))
        .Where(b => b.count != 0)
        .Select(b => string.Create(CultureInfo.InvariantCulture, $"{b.index}:{b.count}")));

    /// <summary>Adds a histogram written by <see cref="ToSparseText"/> (in a process with the same Stopwatch frequency).</summary>
    public void AddSparseText(string text)
    {
        foreach (string bucket in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = bucket.Split(':');
            _counts[int.Parse(parts[0], CultureInfo.InvariantCulture)] += long.Parse(parts[1], CultureInfo.InvariantCulture);
        }
    }

    /// <summary>The latency below which <paramref name="percentile"/> % of the recorded ones lie, in ticks; NaN when empty.</summary>
    public double ValueAtPercentile(double percentile)
    {
        long total = 0;
        foreach (long count in _counts)
        {
            total += count;
        }

        if (total == 0)
        {
            return double.NaN;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(percentile / 100 * total));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return BucketMidpoint(i);
            }
        }

        return BucketMidpoint(_counts.Length - 1);
    }

    private static double BucketMidpoint(int index)
    {
        int subBuckets = 1 << SubBucketBits;
        if (index < 2 * subBuckets)
        {
            return index;
        }

        int shift = (index >> SubBucketBits) - 1;
        long mantissa = index - ((long)shift << SubBucketBits);
        long low = mantissa << shift;
        long high = ((mantissa + 1) << shift) - 1;
        return (low + high) / 2.0;
    }
}
