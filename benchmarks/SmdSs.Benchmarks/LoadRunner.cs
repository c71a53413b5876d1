using System.Diagnostics;
using Microsoft.Extensions.Caching.Distributed;

namespace SmdSs.Benchmarks;

/// <summary>Which IDistributedCache methods a load calls.</summary>
internal enum CallStyle
{
    /// <summary>Get / Set: each caller is a dedicated thread that blocks while a call waits.</summary>
    Sync,

    /// <summary>
    /// GetAsync / SetAsync, awaited: each caller is an async loop started on a dedicated thread.
    /// A call that completes synchronously keeps the loop on that thread (so callers that never
    /// wait do not starve the thread pool); after a call that really waits, the loop goes on
    /// on the thread pool and holds no thread while waiting.
    /// </summary>
    Async,
}

/// <summary>
/// Drives one scenario against one cache: one caller per thread of the scenario calls the
/// IDistributedCache method in a tight loop, first for the warm-up, then for the measured span.
/// </summary>
internal sealed class LoadRunner(IDistributedCache cache, RunTiming timing, CallStyle calls = CallStyle.Sync)
{
    private const int Warmup = 0;
    private const int Measure = 1;
    private const int Stop = 2;

    private static readonly DistributedCacheEntryOptions EntryOptions = new() { AbsoluteExpirationRelativeToNow = TimeSpan.FromHours(1) };

    private readonly IDistributedCache _cache = cache;
    private readonly CallStyle _calls = calls;
    private int _phase;

    /// <summary>Writes every key once, each with its own value array, so Gets hit.</summary>
    public static void Prefill(IDistributedCache cache, KeySet keys, int valueBytes)
    {
        for (int i = 0; i < keys.Count; i++)
        {
            cache.Set(keys.Keys[i], ValueOf(valueBytes, seed: i), EntryOptions);
        }
    }

    /// <summary>
    /// What <see cref="Prefill"/> writes, with <paramref name="parallelism"/> asynchronous
    /// writes at a time, so a networked cache's round trips overlap.
    /// </summary>
    public static Task PrefillAsync(IDistributedCache cache, KeySet keys, int valueBytes, int parallelism, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(
            Enumerable.Range(0, keys.Count),
            new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken },
            async (i, token) => await cache.SetAsync(keys.Keys[i], ValueOf(valueBytes, seed: i), EntryOptions, token).ConfigureAwait(false));

    public ScenarioResult Run(string subject, Scenario scenario, KeySet keys, CancellationToken cancellationToken)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        _phase = Warmup;
        var workers = new Worker[scenario.Threads];
        for (int t = 0; t < workers.Length; t++)
        {
            workers[t] = new Worker(this, scenario, keys, keys.StartOf(t, workers.Length));
        }

        foreach (Worker worker in workers)
        {
            worker.Start();
        }

        // Both waits end at once on cancellation. A worker that failed has already set Stop;
        // the exchange leaves it set.
        cancellationToken.WaitHandle.WaitOne(timing.Warmup);
        long started = Stopwatch.GetTimestamp();
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: _calls == CallStyle.Async);
        Interlocked.CompareExchange(ref _phase, Measure, Warmup);
        cancellationToken.WaitHandle.WaitOne(timing.Measure);
        Volatile.Write(ref _phase, Stop);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        long allocatedInProcess = GC.GetTotalAllocatedBytes(precise: _calls == CallStyle.Async) - allocatedBefore;
        foreach (Worker worker in workers)
        {
            worker.Join();
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (workers.Select(w => w.Failure).OfType<Exception>().ToList() is { Count: > 0 } failures)
        {
            throw new AggregateException($"{subject} {scenario} failed.", failures);
        }

        var latency = new LatencyHistogram();
        foreach (Worker worker in workers)
        {
            latency.Add(worker.Latency);
        }

        long operations = workers.Sum(w => w.Operations);
        double ticksPerMicrosecond = Stopwatch.Frequency / 1_000_000.0;
        return new ScenarioResult(
            subject,
            scenario,
            operations,
            elapsed,
            latency.ValueAtPercentile(50) / ticksPerMicrosecond,
            latency.ValueAtPercentile(99) / ticksPerMicrosecond,
            // An async caller moves between threads: count what the whole process allocated.
            operations == 0 ? 0 : (double)(_calls == CallStyle.Async ? allocatedInProcess : workers.Sum(w => w.AllocatedBytes)) / operations,
            workers.Sum(w => w.Misses));
    }

    private static byte[] ValueOf(int length, int seed)
    {
        byte[] value = new byte[length];
        new Random(seed).NextBytes(value);
        return value;
    }

    private sealed class Worker
    {
        private readonly LoadRunner _runner;
        private readonly Scenario _scenario;
        private readonly string[] _keys;
        private readonly byte[] _value;
        private readonly Thread _thread;
        private int _next;

        public Worker(LoadRunner runner, Scenario scenario, KeySet keys, int firstKey)
        {
            _runner = runner;
            _scenario = scenario;
            _keys = keys.Keys;
            _value = ValueOf(scenario.ValueBytes, seed: firstKey);
            _next = firstKey;
            _thread = new Thread(Loop) { IsBackground = true, Name = "load " + scenario };
        }

        public LatencyHistogram Latency { get; } = new();

        public long Operations { get; private set; }

        public long Misses { get; private set; }

        public long AllocatedBytes { get; private set; }

        public Exception? Failure { get; private set; }

        public void Start() => _thread.Start();

        public void Join() => _thread.Join();

        private void Loop()
        {
            if (_runner._calls == CallStyle.Async)
            {
                LoopAsync().GetAwaiter().GetResult();
                return;
            }

            try
            {
                while (Volatile.Read(ref _runner._phase) == Warmup)
                {
                    CallOnce();
                }

                Misses = 0;
                long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
                long operations = 0;
                long previous = Stopwatch.GetTimestamp();
                while (Volatile.Read(ref _runner._phase) == Measure)
                {
                    CallOnce();
                    // One timestamp per call: each latency runs from the end of the previous call,
                    // so it includes the few nanoseconds of loop and recording overhead.
                    long now = Stopwatch.GetTimestamp();
                    Latency.Record(now - previous);
                    previous = now;
                    operations++;
                }

                AllocatedBytes = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
                Operations = operations;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Failure = ex;
                Volatile.Write(ref _runner._phase, Stop);
            }
        }

        private async Task LoopAsync()
        {
            try
            {
                while (Volatile.Read(ref _runner._phase) == Warmup)
                {
                    await CallOnceAsync().ConfigureAwait(false);
                }

                Misses = 0;
                long operations = 0;
                long previous = Stopwatch.GetTimestamp();
                while (Volatile.Read(ref _runner._phase) == Measure)
                {
                    await CallOnceAsync().ConfigureAwait(false);
                    long now = Stopwatch.GetTimestamp();
                    Latency.Record(now - previous);
                    previous = now;
                    operations++;
                }

                Operations = operations;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Failure = ex;
                Volatile.Write(ref _runner._phase, Stop);
            }
        }

        private async ValueTask CallOnceAsync()
        {
            string key = _keys[_next];
            _next = _next + 1 == _keys.Length ? 0 : _next + 1;
            if (_scenario.Operation == CacheOperation.Get)
            {
                if (await _runner._cache.GetAsync(key).ConfigureAwait(false) is null)
                {
                    Misses++;
                }
            }
            else
            {
                await _runner._cache.SetAsync(key, _value, EntryOptions).ConfigureAwait(false);
            }
        }

        private void CallOnce()
        {
            string key = _keys[_next];
            _next = _next + 1 == _keys.Length ? 0 : _next + 1;
            if (_scenario.Operation == CacheOperation.Get)
            {
                if (_runner._cache.Get(key) is null)
                {
                    Misses++;
                }
            }
            else
            {
                _runner._cache.Set(key, _value, EntryOptions);
            }
        }
    }
}
