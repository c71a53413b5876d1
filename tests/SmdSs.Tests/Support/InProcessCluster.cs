using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SmdSs.Model;

namespace SmdSs.Tests.Support;

/// <summary>
/// N nodes in this process, each with its own host, DI container and data directory, talking
/// over real sockets on loopback ephemeral ports. The first node is every other node's friend.
/// </summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly List<IHost?> _hosts = [];
    private readonly Action<SmdSsOptions>? _configure;
    private readonly string _clusterSecret = Transport.ClusterKey.NewRandomSecret();

    private InProcessCluster(Action<SmdSsOptions>? configure) => _configure = configure;

    /// <summary>Wraps the transport of the nodes started from now on (fault injection); gets the node's index.</summary>
    internal Func<int, Transport.IPeerTransport, Transport.IPeerTransport>? DecorateTransport { get; set; }

    /// <summary>Further SMD-SS registrations (processors, map functions) for each node started from now on.</summary>
    public Action<SmdSsBuilder>? Register { get; set; }

    /// <summary>A log provider for each node started from now on (gets the node's index); it gets the node's logs from Information up.</summary>
    internal Func<int, ILoggerProvider>? LogTo { get; set; }

    /// <summary>The clock of the nodes started from now on (the system clock when null).</summary>
    public TimeProvider? Time { get; set; }

    /// <summary>Options for one node (gets its index), applied after the cluster's for each node started from now on.</summary>
    public Action<int, SmdSsOptions>? ConfigureNode { get; set; }

    /// <summary>Called with each node before it starts (again), for test hooks on the node itself.</summary>
    internal Action<int, SmdSsNode>? PrepareNode { get; set; }

    public int Count => _hosts.Count;

    public static async Task<InProcessCluster> StartAsync(int nodes, Action<SmdSsOptions>? configure = null) =>
        await StartAsync(nodes, configure, null);

    /// <summary>Starts <paramref name="nodes"/> nodes, each with the processors and map functions <paramref name="register"/> adds.</summary>
    public static async Task<InProcessCluster> StartWithAsync(int nodes, Action<SmdSsBuilder> register, Action<SmdSsOptions>? configure = null)
    {
        var cluster = new InProcessCluster(configure) { Register = register };
        for (int i = 0; i < nodes; i++)
        {
            await cluster.AddNodeAsync();
        }

        return cluster;
    }

    internal static async Task<InProcessCluster> StartAsync(
        int nodes, Action<SmdSsOptions>? configure, Func<int, Transport.IPeerTransport, Transport.IPeerTransport>? decorate, Func<int, ILoggerProvider>? logTo = null)
    {
        var cluster = new InProcessCluster(configure) { DecorateTransport = decorate, LogTo = logTo };
        for (int i = 0; i < nodes; i++)
        {
            await cluster.AddNodeAsync();
        }

        return cluster;
    }

    public SmdSsNode Node(int index) => _hosts[index]!.Services.GetRequiredService<SmdSsNode>();

    public IServiceProvider Services(int index) => _hosts[index]!.Services;

    public IDistributedCache Cache(int index) => _hosts[index]!.Services.GetRequiredService<IDistributedCache>();

    public bool IsRunning(int index) => _hosts[index] is not null;

    public IEnumerable<int> Running => Enumerable.Range(0, _hosts.Count).Where(IsRunning);

    public string DataDirectory(int index) => _directory.Sub("node" + index);

    /// <summary>Starts a new node (friend: the first running node) and returns its index.</summary>
    public async Task<int> AddNodeAsync()
    {
        _hosts.Add(null);
        int index = _hosts.Count - 1;
        await StartNodeAsync(index);
        return index;
    }

    /// <summary>Starts node <paramref name="index"/> (again) on its data directory.</summary>
    public async Task StartNodeAsync(int index)
    {
        string? friend = Running.Select(i => Node(i).Endpoint).FirstOrDefault();
        IHost host = Host.CreateDefaultBuilder()
            .ConfigureLogging(logging =>
            {
                logging.ClearProviders().SetMinimumLevel(LogLevel.Warning);
                if (LogTo is { } logTo)
                {
                    logging.SetMinimumLevel(LogLevel.Information).AddProvider(logTo(index));
                }
            })
            .ConfigureServices(services =>
            {
                if (Time is { } time)
                {
                    services.AddSingleton(time);
                }

                SmdSsBuilder smdSs = services.AddSmdSs(o =>
                {
                    o.DataDirectory = DataDirectory(index);
                    o.Listen = "127.0.0.1:0";
                    o.FsyncPolicy = FsyncPolicy.EverySecond;
                    // Sealed, as a production cluster is, unless the test configures otherwise.
                    o.ClusterSecret = _clusterSecret;
                    if (friend is not null)
                    {
                        o.Friends.Add(friend);
                    }

                    _configure?.Invoke(o);
                    ConfigureNode?.Invoke(index, o);
                });
                Register?.Invoke(smdSs);
            })
            .Build();
        if (DecorateTransport is { } decorate)
        {
            host.Services.GetRequiredService<SmdSsNode>().TransportDecorator = transport => decorate(index, transport);
        }

        PrepareNode?.Invoke(index, host.Services.GetRequiredService<SmdSsNode>());

        await host.StartAsync();
        _hosts[index] = host;
    }

    /// <summary>Stops node <paramref name="index"/> gracefully (it says goodbye).</summary>
    public async Task StopNodeAsync(int index)
    {
        IHost host = _hosts[index]!;
        _hosts[index] = null;
        await host.StopAsync();
        host.Dispose();
    }

    /// <summary>Kills node <paramref name="index"/>: no goodbye, its peers must detect it.</summary>
    public async Task CrashNodeAsync(int index)
    {
        IHost host = _hosts[index]!;
        _hosts[index] = null;
        await host.Services.GetRequiredService<SmdSsNode>().CrashAsync();
        await host.StopAsync();
        host.Dispose();
    }

    /// <summary>True when every running node has the same digests and every slice has its full in-sync replica set of running nodes.</summary>
    public bool IsSettled(int replicationFactor = 3)
    {
        List<SmdSsStatus> statuses = [.. Running.Select(i => Node(i).GetStatus())];
        if (statuses.Select(s => s.NodeMapDigest).Distinct().Count() != 1 || statuses.Select(s => s.SliceMapDigest).Distinct().Count() != 1)
        {
            return false;
        }

        var running = statuses.Select(s => s.NodeId).ToHashSet();
        int want = Math.Min(replicationFactor, running.Count);
        return statuses[0].Slices.All(s => s.Replicas.Count == want && s.InSync.Count == want && s.Replicas.All(running.Contains));
    }

    /// <summary>Every running node's view, for a failure message.</summary>
    public string Describe()
    {
        var text = new System.Text.StringBuilder();
        foreach (int index in Running)
        {
            SmdSsStatus status = Node(index).GetStatus();
            text.AppendLine($"node {index} {status.NodeId} nodes[{string.Join(" ", status.Nodes.Select(n => $"{n.Id[..4]}:{n.State}:{n.Incarnation}"))}] digests {status.NodeMapDigest[..8]}/{status.SliceMapDigest[..8]}");
            foreach (SmdSsSliceStatus slice in status.Slices)
            {
                text.AppendLine($"  {slice.Start:x8} e{slice.Epoch} replicas[{string.Join(",", slice.Replicas.Select(r => r[..4]))}] insync[{string.Join(",", slice.InSync.Select(r => r[..4]))}] local {slice.LocalEntries}");
            }
        }

        return text.ToString();
    }

    public async Task WaitSettledAsync(TimeSpan? timeout = null, int replicationFactor = 3)
    {
        try
        {
            await Eventually.TrueAsync(() => IsSettled(replicationFactor), timeout ?? TimeSpan.FromSeconds(60), "cluster settled: equal digests, full in-sync sets");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + "\n" + Describe(), ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (int index in Running.ToList())
        {
            try
            {
                await StopNodeAsync(index);
            }
            catch (ObjectDisposedException)
            {
                // Already gone.
            }
        }

        _directory.Dispose();
    }
}
