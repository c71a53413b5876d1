using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Simulation;

/// <summary>
/// Writers that keep setting, removing and reading their own keys through random running nodes
/// while faults are on, recording every outcome in the <see cref="WriteModel"/>. Reads during
/// faults are counted, not asserted: a partitioned primary may serve a stale read (a known gap).
/// </summary>
internal sealed class Workload(InProcessCluster cluster, WriteModel model)
{
    public const int KeysPerWriter = 10;

    /// <summary>Counters every writer increments: none may count an acknowledged increment less, or any increment twice.</summary>
    public static readonly string[] Counters = ["counter-a", "counter-b", "counter-c"];
    private readonly long[] _counterAcknowledged = new long[Counters.Length];
    private readonly long[] _counterFailed = new long[Counters.Length];
    private long _acknowledged;
    private long _failed;
    private long _reads;
    private long _readsFailed;
    private long _readsNotPossible;
    private readonly int[] _crashes = new int[16];
    private readonly int[] _inFlight = new int[16];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, string> _current = new();

    /// <summary>Exceptions other than the ones a write may meet while the cluster is faulty.</summary>
    public List<string> Unexpected { get; } = [];

    /// <summary>Other exceptions met by operations on a node crashed while they ran.</summary>
    public List<string> UnderCrash { get; } = [];

    /// <summary>Runs writer <paramref name="writer"/> until <paramref name="stop"/>; an operation in flight finishes first.</summary>
    public async Task RunAsync(int writer, int round, Random random, CancellationToken stop)
    {
        int sequence = 0;
        while (!stop.IsCancellationRequested)
        {
            var running = cluster.Running.ToList();
            int node = running[random.Next(running.Count)];
            string key = $"w{writer}-k{random.Next(KeysPerWriter)}";
            int action = random.Next(100);
            string value = $"{key}#{round}.{sequence++}";
            Interlocked.Increment(ref _inFlight[node]);
            _current[writer] = $"writer {writer}: {Describe(action)} {key} on node {node}, since {DateTime.UtcNow:HH:mm:ss.fff}";
            try
            {
                await OperateAsync(node, key, value, action).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight[node]);
                _current.TryRemove(writer, out _);
            }

            // Paced, so that two cores keep time for the cluster's own timers.
            await Task.Delay(random.Next(10, 30), CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits until no operation started on <paramref name="node"/> is still running. A crashed
    /// in-process node's operations in flight keep running (a killed process's would not), and
    /// must not overlap the node's next start on the same data directory.
    /// </summary>
    public Task WaitIdleAsync(int node, TimeSpan timeout) =>
        Eventually.TrueAsync(() => Volatile.Read(ref _inFlight[node]) == 0, timeout, $"the operations on node {node} in flight at its crash finished");

    /// <summary>The operations running now, one per writer, for a failure that finds writers that do not stop.</summary>
    public string InFlight() => _current.IsEmpty ? "none" : string.Join("; ", _current.OrderBy(c => c.Key).Select(c => c.Value));

    private static string Describe(int action) => action >= 85 ? "increment" : action < 65 ? "set" : action < 75 ? "remove" : "get";

    /// <summary>Called before the schedule crashes <paramref name="node"/>: whatever its operations in flight meet is no longer the cluster's answer.</summary>
    public void Crashing(int node) => Interlocked.Increment(ref _crashes[node]);

    public string Summary() =>
        $"{Interlocked.Read(ref _acknowledged)} writes acknowledged, {Interlocked.Read(ref _failed)} failed; "
        + $"{Interlocked.Read(ref _reads)} reads, {Interlocked.Read(ref _readsFailed)} failed, {Interlocked.Read(ref _readsNotPossible)} not the model's value"
        + (UnderCrash.Count > 0 ? $"; under a crash: {string.Join(" | ", UnderCrash.Distinct().Take(3))}" : "");

    private async Task OperateAsync(int node, string key, string value, int action)
    {
        int crashes = Volatile.Read(ref _crashes[node]);
        bool Crashed() => Volatile.Read(ref _crashes[node]) != crashes;
        if (TryCache(node) is not { } cache)
        {
            return;
        }

        if (action >= 85)
        {
            await IncrementAsync(node, action % Counters.Length, 1 + (action % 3), Crashed).ConfigureAwait(false);
        }
        else if (action < 65)
        {
            await WriteAsync(key, value, node, Crashed, () => cache.SetAsync(key, Encoding.UTF8.GetBytes(value), new DistributedCacheEntryOptions())).ConfigureAwait(false);
        }
        else if (action < 75)
        {
            await WriteAsync(key, null, node, Crashed, () => cache.RemoveAsync(key)).ConfigureAwait(false);
        }
        else
        {
            await ReadAsync(key, node, cache, Crashed).ConfigureAwait(false);
        }
    }

    /// <summary>The sums of the increments of counter <paramref name="counter"/> acknowledged and failed so far.</summary>
    public (long Acknowledged, long Failed) CounterBounds(int counter) =>
        (Interlocked.Read(ref _counterAcknowledged[counter]), Interlocked.Read(ref _counterFailed[counter]));

    private async Task IncrementAsync(int node, int counter, int delta, Func<bool> crashed)
    {
        if (TryNode(node) is not { } target)
        {
            return;
        }

        try
        {
            await target.IncrementAsync(Counters[counter], delta).ConfigureAwait(false);
            Interlocked.Add(ref _counterAcknowledged[counter], delta);
        }
        catch (Exception ex) when (IsExpected(ex) || Record(ex, crashed()))
        {
            // Failed: it may or may not have been applied (also when the node was crashed under
            // the call, whatever a half-torn-down node threw: it may have forwarded it already).
            Interlocked.Add(ref _counterFailed[counter], delta);
        }
    }

    private SmdSsNode? TryNode(int node)
    {
        try
        {
            return cluster.IsRunning(node) ? cluster.Node(node) : null;
        }
        catch (Exception ex) when (ex is NullReferenceException or ObjectDisposedException)
        {
            // Crashed by the schedule a moment ago: nothing was sent.
            return null;
        }
    }

    private IDistributedCache? TryCache(int node)
    {
        try
        {
            return cluster.IsRunning(node) ? cluster.Cache(node) : null;
        }
        catch (Exception ex) when (ex is NullReferenceException or ObjectDisposedException)
        {
            // Crashed by the schedule a moment ago.
            return null;
        }
    }

    private async Task WriteAsync(string key, string? value, int node, Func<bool> crashed, Func<Task> write)
    {
        try
        {
            await write().ConfigureAwait(false);
            model.Acknowledged(key, value, node);
            Interlocked.Increment(ref _acknowledged);
        }
        catch (Exception ex) when (IsExpected(ex) || Record(ex, crashed()))
        {
            model.Failed(key, value, node, ex);
            Interlocked.Increment(ref _failed);
        }
    }

    private async Task ReadAsync(string key, int node, IDistributedCache cache, Func<bool> crashed)
    {
        try
        {
            byte[]? bytes = await cache.GetAsync(key).ConfigureAwait(false);
            string? value = bytes is null ? null : Encoding.UTF8.GetString(bytes);
            bool possible = model.Possible(key).Contains(value);
            model.NoteRead(key, node, value, possible);
            Interlocked.Increment(ref _reads);
            if (!possible)
            {
                Interlocked.Increment(ref _readsNotPossible);
            }
        }
        catch (Exception ex) when (IsExpected(ex) || Record(ex, crashed()))
        {
            Interlocked.Increment(ref _readsFailed);
        }
    }

    // What the cluster may answer while faulty (or while the node asked is being crashed).
    private static bool IsExpected(Exception ex) => ex is SmdSsUnavailableException or ObjectDisposedException
        || (ex is InvalidOperationException && ex.Message.Contains("not running", StringComparison.Ordinal));

    // Anything else is a finding, unless the node was crashed under the operation (a crashed
    // process's callers die with it; in-process, they see what a half-torn-down node throws).
    private bool Record(Exception ex, bool crashed)
    {
        lock (Unexpected)
        {
            if (crashed)
            {
                UnderCrash.Add($"{ex.GetType().Name}: {ex.Message} {ex.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}");
            }
            else
            {
                Unexpected.Add(ex.ToString());
            }
        }

        return true;
    }
}
