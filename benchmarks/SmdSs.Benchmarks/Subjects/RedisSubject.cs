using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace SmdSs.Benchmarks.Subjects;

/// <summary>
/// Microsoft's RedisCache (Microsoft.Extensions.Caching.StackExchangeRedis) against a running
/// redis-server, registered as an application would with AddStackExchangeRedisCache.
/// </summary>
internal sealed class RedisSubject(string endpoint) : ICacheSubject
{
    public string Name => "Redis";

    /// <summary>The server's version, known once <see cref="StartAsync"/> has connected.</summary>
    public string? ServerVersion { get; private set; }

    /// <summary>The server's process id (INFO server), known once <see cref="StartAsync"/> has connected.</summary>
    public int? ServerProcessId { get; private set; }

    public async Task<StartedCache> StartAsync(CancellationToken cancellationToken)
    {
        await ReadServerInfoAsync().ConfigureAwait(false);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddStackExchangeRedisCache(o => o.Configuration = endpoint);
        ServiceProvider provider = services.BuildServiceProvider();
        try
        {
            var cache = provider.GetRequiredService<IDistributedCache>();
            // Connects now, so the first measured call does not pay for it.
            await cache.GetAsync("smdss-bench:connect", cancellationToken).ConfigureAwait(false);
            return new StartedCache(cache, provider.DisposeAsync);
        }
        catch
        {
            await provider.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Reads <see cref="ServerVersion"/> and <see cref="ServerProcessId"/> (StartAsync does too).</summary>
    // A connection of its own: INFO needs admin mode, which the cache's connection does not get.
    public async Task ReadServerInfoAsync()
    {
        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(endpoint + ",allowAdmin=true").ConfigureAwait(false);
        IServer server = connection.GetServer(connection.GetEndPoints()[0]);
        ServerVersion = server.Version.ToString();
        IGrouping<string, KeyValuePair<string, string>>[] info = await server.InfoAsync("server").ConfigureAwait(false);
        string? pid = info.SelectMany(g => g).FirstOrDefault(p => p.Key == "process_id").Value;
        ServerProcessId = int.TryParse(pid, System.Globalization.CultureInfo.InvariantCulture, out int id) ? id : null;
    }
}
