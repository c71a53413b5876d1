using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SmdSs.Benchmarks.Increments;

/// <summary>
/// One SMD-SS node embedded in the worker process (new SmdSsNode + StartAsync, as a host would),
/// FsyncPolicy EverySecond and ReplicationFactor 3 as in the cluster benchmark. Its warnings go
/// to stderr, where the harness looks for them.
/// </summary>
internal sealed class SmdSsCounterStore : ICounterStore
{
    public const int ReplicationFactor = 3;
    private const int Parallelism = 16;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private readonly ILoggerFactory _logging;
    private readonly SmdSsNode _node;

    public SmdSsCounterStore(string listen, string dataDirectory, string? friend)
    {
        _logging = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning));
        var options = new SmdSsOptions
        {
            Listen = listen,
            DataDirectory = dataDirectory,
            FsyncPolicy = FsyncPolicy.EverySecond,
            ReplicationFactor = ReplicationFactor,
        };
        if (friend is not null)
        {
            options.Friends.Add(friend);
        }

        _node = new SmdSsNode(Options.Create(options), loggerFactory: _logging);
    }

    public async Task<string> StartAsync(CancellationToken cancellationToken)
    {
        await _node.StartAsync(cancellationToken).ConfigureAwait(false);
        return _node.Endpoint ?? throw new InvalidOperationException("The node started without an endpoint.");
    }

    public Task IncrementAsync(string key) => _node.IncrementAsync(key).AsTask();

    public Task ResetAsync(string[] keys, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (key, token) => await _node.RemoveAsync(key, token).ConfigureAwait(false));

    public async Task<long> SumAsync(string[] keys, CancellationToken cancellationToken)
    {
        long sum = 0;
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (key, token) =>
        {
            string? value = await _node.GetStringAsync(key, token).ConfigureAwait(false);
            Interlocked.Add(ref sum, value is null ? 0 : long.Parse(value, CultureInfo.InvariantCulture));
        }).ConfigureAwait(false);
        return sum;
    }

    public string? StatusJson() => JsonSerializer.Serialize(_node.GetStatus(), JsonSerializerOptions.Web);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _node.StopAsync(CancellationToken.None).WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        finally
        {
            // Flushes the console logger's queue, so the last warnings reach the harness.
            _logging.Dispose();
        }
    }
}
