using System.Globalization;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;

namespace SmdSs.Benchmarks.Subjects;

/// <summary>One SMD-SS node, set up as a user would with AddSmdSs, on a fresh temporary data directory.</summary>
internal sealed class SmdSsSubject : ICacheSubject
{
    /// <summary>Enough for both key sets at 64 KiB (about 1.3 GB) without eviction.</summary>
    public const long MaxMemoryBytes = 2L << 30;

    public string Name => "SMD-SS";

    public async Task<StartedCache> StartAsync(CancellationToken cancellationToken)
    {
        string dataDirectory = Path.Combine(Path.GetTempPath(), "smdss-bench-" + Guid.NewGuid().ToString("N"));
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSmdSs(o =>
        {
            o.DataDirectory = dataDirectory;
            o.FsyncPolicy = FsyncPolicy.EverySecond;
            o.MaxMemoryBytes = MaxMemoryBytes;
        });
        ServiceProvider provider = services.BuildServiceProvider();
        SmdSsNode node = provider.GetRequiredService<SmdSsNode>();

        async ValueTask StopAsync()
        {
            ReportStore(node);
            await node.StopAsync(CancellationToken.None);
            await provider.DisposeAsync();
            if (Directory.Exists(dataDirectory))
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
        }

        try
        {
            await node.StartAsync(cancellationToken);
            return new StartedCache(provider.GetRequiredService<IDistributedCache>(), StopAsync);
        }
        catch
        {
            await StopAsync();
            throw;
        }
    }

    // How far the slice files grew and how often they were compacted: context for the Set numbers.
    private static void ReportStore(SmdSsNode node)
    {
        if (node.Store is { } store)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  SMD-SS store: {store.Count:N0} entries, {store.DiskBytes / (1024.0 * 1024.0):N0} MiB on disk, {store.Compactions} compactions, {store.Evictions} evictions"));
        }
    }
}
