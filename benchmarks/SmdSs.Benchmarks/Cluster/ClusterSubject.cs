using System.Diagnostics;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// A settled 4-node SMD-SS cluster: the three WebFarm processes plus a node embedded in this
/// process with AddSmdSs, as an application would embed it. The benchmark calls the embedded
/// node's IDistributedCache. Disposing stops the node, kills the processes and deletes every
/// data directory.
/// </summary>
internal sealed class ClusterSubject : IAsyncDisposable
{
    public const int ReplicationFactor = 3;
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private readonly FarmProcesses _farm;
    private readonly ServiceProvider _provider;
    private readonly string _dataDirectory;

    private ClusterSubject(FarmProcesses farm, ServiceProvider provider, string dataDirectory)
    {
        _farm = farm;
        _provider = provider;
        _dataDirectory = dataDirectory;
        Node = provider.GetRequiredService<SmdSsNode>();
        Cache = provider.GetRequiredService<IDistributedCache>();
    }

    public SmdSsNode Node { get; }

    public IDistributedCache Cache { get; }

    public FarmProcesses Farm => _farm;

    /// <summary>How long the cluster took from the first process start to settled.</summary>
    public TimeSpan SettleTime { get; private set; }

    /// <summary>
    /// Starts the cluster in <paramref name="workDirectory"/>/<paramref name="name"/>, with
    /// <paramref name="clusterSecret"/> on every node (sealed frames) or none (frames in clear).
    /// </summary>
    public static async Task<ClusterSubject> StartAsync(string workDirectory, string name, string? clusterSecret, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        string clusterDirectory = Path.Combine(workDirectory, name);
        FarmProcesses farm = await FarmProcesses.StartAsync(clusterDirectory, Path.Combine(workDirectory, "pids"), clusterSecret, cancellationToken).ConfigureAwait(false);
        string dataDirectory = Path.Combine(clusterDirectory, "embedded");
        var services = new ServiceCollection();
        // Warnings of the embedded node (a replica that failed to answer, a lost lease) go to stderr with the progress.
        services.AddLogging(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning));
        services.AddSmdSs(o =>
        {
            o.Listen = "127.0.0.1:0";
            o.Friends.Add(farm.FirstEndpoint);
            o.DataDirectory = dataDirectory;
            o.FsyncPolicy = FsyncPolicy.EverySecond;
            o.ReplicationFactor = ReplicationFactor;
            o.ClusterSecret = clusterSecret;
        });
        var cluster = new ClusterSubject(farm, services.BuildServiceProvider(), dataDirectory);
        try
        {
            await cluster.Node.StartAsync(cancellationToken).ConfigureAwait(false);
            Progress.Line($"  started the embedded node {cluster.Node.NodeId} at {cluster.Node.Endpoint}; waiting for the cluster to settle");
            await ClusterSettle.WaitAsync(farm, cluster.Node, ReplicationFactor, SettleTimeout, cancellationToken).ConfigureAwait(false);
            cluster.SettleTime = Stopwatch.GetElapsedTime(started);
            return cluster;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            string output = farm.DescribeOutput(80);
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"The cluster did not come up: {ex.Message}{Environment.NewLine}WebFarm output:{Environment.NewLine}{output}", ex);
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The embedded node's view of the cluster now.</summary>
    public SmdSsStatus Status() => Node.GetStatus();

    public async ValueTask DisposeAsync()
    {
        try
        {
            // Stop the embedded node while its peers still run, so its goodbye waits on no timeout.
            await Node.StopAsync(CancellationToken.None).WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Progress.Line($"  the embedded node did not stop within {StopTimeout.TotalSeconds:0} s; going on with the clean-up");
        }
        finally
        {
            _farm.Dispose();
            await DisposeProviderAsync().ConfigureAwait(false);
            DeleteDirectory(_dataDirectory);
            foreach (int i in Enumerable.Range(0, FarmProcesses.Count))
            {
                DeleteDirectory(Path.Combine(Path.GetDirectoryName(_dataDirectory)!, $"n{i}"));
            }
        }
    }

    // Disposing the container stops the node again: a no-op unless the stop above hung.
    private async Task DisposeProviderAsync()
    {
        try
        {
            await _provider.DisposeAsync().AsTask().WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Progress.Line("  the service provider did not dispose in time; going on with the clean-up");
        }
    }

    private static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
