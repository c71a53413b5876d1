using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SmdSs.Benchmarks.Cluster;

namespace SmdSs.Benchmarks.Increments;

/// <summary>
/// The three worker processes of one subject. For SMD-SS the first node starts a cluster on its
/// own and the other two join through it, and the group waits until the cluster has settled.
/// Disposing stops each worker (QUIT), kills any that does not stop, and deletes the data directories.
/// </summary>
internal sealed class WorkerGroup : IAsyncDisposable
{
    public const int Count = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    // Every worker starts its callers at the same wall-clock moment, this far after the RUN is sent.
    private static readonly TimeSpan StartDelay = TimeSpan.FromMilliseconds(500);
    private readonly List<WorkerProcess> _workers = [];
    private readonly List<string> _dataDirectories = [];
    private readonly List<string> _endpoints = [];

    public IReadOnlyList<WorkerProcess> Workers => _workers;

    /// <summary>From the first worker's start to the settled cluster (SMD-SS) or to the last READY (Redis).</summary>
    public TimeSpan StartTime { get; private set; }

    public static Task<WorkerGroup> StartRedisAsync(string endpoint, string workDirectory, CancellationToken cancellationToken) =>
        StartAsync(workDirectory, async (group, pids) =>
        {
            foreach (int i in Enumerable.Range(0, Count))
            {
                group.Launch($"redis-w{i}", ["redis", "--redis", endpoint], pids);
            }

            await Task.WhenAll(group._workers.Select(w => w.ReplyAsync(WorkerProtocol.Ready, StartTimeout, cancellationToken))).ConfigureAwait(false);
        });

    public static Task<WorkerGroup> StartSmdSsAsync(string workDirectory, CancellationToken cancellationToken) =>
        StartAsync(workDirectory, async (group, pids) =>
        {
            string? first = null;
            foreach (int i in Enumerable.Range(0, Count))
            {
                string data = Path.Combine(workDirectory, $"increments-n{i}");
                group._dataDirectories.Add(data);
                WorkerProcess worker = group.Launch($"smdss-w{i}", ["smdss", "--data", data, .. first is null ? Array.Empty<string>() : ["--friend", first]], pids);
                // The others join through the first, so it must be up first.
                if (i == 0)
                {
                    first = await worker.ReplyAsync(WorkerProtocol.Ready, StartTimeout, cancellationToken).ConfigureAwait(false);
                }
            }

            string[] others = await Task.WhenAll(group._workers.Skip(1).Select(w => w.ReplyAsync(WorkerProtocol.Ready, StartTimeout, cancellationToken))).ConfigureAwait(false);
            group._endpoints.AddRange([first!, .. others]);
            group.Settled = await ClusterSettle.WaitAsync(group.StatusesAsync, Count, SmdSsCounterStore.ReplicationFactor, SettleTimeout, cancellationToken).ConfigureAwait(false);
        });

    /// <summary>The first SMD-SS node's status once the cluster settled; null for Redis.</summary>
    public SmdSsStatus? Settled { get; private set; }

    /// <summary>The name of the worker whose node has <paramref name="nodeId"/> in the settled node map.</summary>
    public string WorkerOf(string nodeId)
    {
        string? endpoint = Settled?.Nodes.FirstOrDefault(n => n.Id == nodeId)?.Endpoint;
        int index = endpoint is null ? -1 : _endpoints.IndexOf(endpoint);
        return index < 0 ? nodeId : _workers[index].Name;
    }

    /// <summary>Deletes the scenario's counters (through the first worker).</summary>
    public Task ResetAsync(string prefix, IncrementScenario scenario, CancellationToken cancellationToken) =>
        _workers[0].RequestAsync(Command(WorkerProtocol.Reset, prefix, scenario.CounterCount), WorkerProtocol.Ok, CommandTimeout, cancellationToken);

    /// <summary>The scenario's counters summed as read back through the first worker.</summary>
    public async Task<long> SumAsync(string prefix, IncrementScenario scenario, CancellationToken cancellationToken)
    {
        string sum = await _workers[0].RequestAsync(Command(WorkerProtocol.Sum, prefix, scenario.CounterCount), WorkerProtocol.Sum, CommandTimeout, cancellationToken).ConfigureAwait(false);
        return long.Parse(sum, CultureInfo.InvariantCulture);
    }

    /// <summary>Runs <paramref name="callers"/> callers in every worker at once; each worker's tally.</summary>
    public async Task<WorkerTally[]> RunAsync(string prefix, IncrementScenario scenario, int callers, RunTiming timing, CancellationToken cancellationToken)
    {
        long startAt = (DateTimeOffset.UtcNow + StartDelay).ToUnixTimeMilliseconds();
        string command = Command(WorkerProtocol.Run, prefix, scenario.CounterCount, callers, startAt, (long)timing.Warmup.TotalMilliseconds, (long)timing.Measure.TotalMilliseconds);
        TimeSpan timeout = StartDelay + timing.Warmup + timing.Measure + CommandTimeout;
        string[] replies = await Task.WhenAll(_workers.Select(w => w.RequestAsync(command, WorkerProtocol.Done, timeout, cancellationToken))).ConfigureAwait(false);
        return [.. replies.Select(r => WorkerTally.Parse(WorkerProtocol.Done + "\t" + r))];
    }

    /// <summary>Each worker's command line and last output lines, for a failure message.</summary>
    public string DescribeOutput(int lines)
    {
        var text = new StringBuilder();
        foreach (WorkerProcess worker in _workers)
        {
            text.AppendLine($"--- {worker.Name}: {worker.CommandLine}").AppendLine(worker.OutputTail(lines));
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        // The last to join stops first, so the first node's goodbye finds no peer left to wait on.
        for (int i = _workers.Count - 1; i >= 0; i--)
        {
            await _workers[i].StopAsync(StopTimeout).ConfigureAwait(false);
            _workers[i].Dispose();
        }

        foreach (string directory in _dataDirectories.Where(Directory.Exists))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<WorkerGroup> StartAsync(string workDirectory, Func<WorkerGroup, string, Task> start)
    {
        var group = new WorkerGroup();
        long started = Stopwatch.GetTimestamp();
        try
        {
            await start(group, Path.Combine(workDirectory, "pids")).ConfigureAwait(false);
            group.StartTime = Stopwatch.GetElapsedTime(started);
            return group;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            string output = group.DescribeOutput(60);
            await group.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"The increment workers did not come up: {ex.Message}{Environment.NewLine}{output}", ex);
        }
        catch
        {
            await group.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private WorkerProcess Launch(string name, IEnumerable<string> arguments, string pids)
    {
        var worker = new WorkerProcess(name, arguments, pids);
        _workers.Add(worker);
        worker.Start();
        Progress.Line($"  started {worker.Name} (pid {worker.Pid}): {worker.CommandLine}");
        return worker;
    }

    /// <summary>Each SMD-SS worker's view of the cluster now.</summary>
    public async Task<IReadOnlyList<SmdSsStatus?>> StatusesAsync(CancellationToken cancellationToken)
    {
        string[] replies = await Task.WhenAll(_workers.Select(w => w.RequestAsync(WorkerProtocol.Status, WorkerProtocol.Status, CommandTimeout, cancellationToken))).ConfigureAwait(false);
        return [.. replies.Select(r => JsonSerializer.Deserialize<SmdSsStatus>(r, JsonSerializerOptions.Web))];
    }

    private static string Command(string verb, params object[] words) =>
        string.Join(' ', words.Select(w => Convert.ToString(w, CultureInfo.InvariantCulture)).Prepend(verb));
}
