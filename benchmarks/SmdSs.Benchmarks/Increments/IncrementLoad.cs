using System.Diagnostics;

namespace SmdSs.Benchmarks.Increments;

/// <summary>
/// The callers of one worker process: each is an async loop that increments a counter and
/// awaits the acknowledgement, from the agreed start time until warm-up and measured span are
/// over. An increment counts as measured when it completes inside the measured window; every
/// acknowledged one counts in the total the counters must add up to.
/// </summary>
internal sealed class IncrementLoad(ICounterStore store, string[] keys, int callers, RunTiming timing)
{
    // A failing store must not turn the loop into a spin that starves the others of CPU.
    private static readonly TimeSpan ErrorPause = TimeSpan.FromMilliseconds(10);

    /// <summary>Waits until <paramref name="startAt"/> (the same wall clock moment in every worker), then runs.</summary>
    public async Task<WorkerTally> RunAsync(DateTimeOffset startAt, CancellationToken cancellationToken)
    {
        TimeSpan wait = startAt - DateTimeOffset.UtcNow;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }

        long started = Stopwatch.GetTimestamp();
        long measureFrom = started + Ticks(timing.Warmup);
        long measureUntil = measureFrom + Ticks(timing.Measure);
        Caller[] all = [.. Enumerable.Range(0, callers).Select(i => new Caller(store, keys, new Random(Environment.ProcessId * 1000 + i)))];
        await Task.WhenAll(all.Select(c => Task.Run(() => c.LoopAsync(measureFrom, measureUntil, cancellationToken), cancellationToken))).ConfigureAwait(false);

        var latency = new LatencyHistogram();
        foreach (Caller caller in all)
        {
            latency.Add(caller.Latency);
        }

        return new WorkerTally(
            all.Sum(c => c.Acknowledged),
            all.Sum(c => c.Measured),
            all.Sum(c => c.Errors),
            all.Select(c => c.FirstError).FirstOrDefault(e => e is not null),
            latency);
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private sealed class Caller(ICounterStore store, string[] keys, Random random)
    {
        public LatencyHistogram Latency { get; } = new();

        public long Acknowledged { get; private set; }

        public long Measured { get; private set; }

        public long Errors { get; private set; }

        public string? FirstError { get; private set; }

        public async Task LoopAsync(long measureFrom, long measureUntil, CancellationToken cancellationToken)
        {
            long now = Stopwatch.GetTimestamp();
            while (now < measureUntil && !cancellationToken.IsCancellationRequested)
            {
                string key = keys.Length == 1 ? keys[0] : keys[random.Next(keys.Length)];
                long before = now;
                try
                {
                    await store.IncrementAsync(key).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // The outcome is unknown (it may have been applied): the sum check says so.
                    Errors++;
                    FirstError ??= ex.GetType().Name + ": " + ex.Message;
                    await Task.Delay(ErrorPause, CancellationToken.None).ConfigureAwait(false);
                    now = Stopwatch.GetTimestamp();
                    continue;
                }

                now = Stopwatch.GetTimestamp();
                Acknowledged++;
                if (now >= measureFrom && now < measureUntil)
                {
                    Measured++;
                    Latency.Record(now - before);
                }
            }
        }
    }
}
