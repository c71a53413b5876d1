using StackExchange.Redis;

namespace SmdSs.Benchmarks.Increments;

/// <summary>One ConnectionMultiplexer to the redis-server; INCR through StringIncrementAsync.</summary>
internal sealed class RedisCounterStore(string endpoint) : ICounterStore
{
    private ConnectionMultiplexer? _connection;
    private IDatabase? _database;

    public async Task<string> StartAsync(CancellationToken cancellationToken)
    {
        _connection = await ConnectionMultiplexer.ConnectAsync(endpoint).ConfigureAwait(false);
        _database = _connection.GetDatabase();
        await _database.PingAsync().ConfigureAwait(false);
        return "-";
    }

    public Task IncrementAsync(string key) => Database.StringIncrementAsync(key);

    public Task ResetAsync(string[] keys, CancellationToken cancellationToken) =>
        Database.KeyDeleteAsync([.. keys.Select(k => (RedisKey)k)]);

    public async Task<long> SumAsync(string[] keys, CancellationToken cancellationToken)
    {
        RedisValue[] values = await Database.StringGetAsync([.. keys.Select(k => (RedisKey)k)]).ConfigureAwait(false);
        return values.Sum(v => v.IsNull ? 0 : (long)v);
    }

    public string? StatusJson() => null;

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private IDatabase Database => _database ?? throw new InvalidOperationException("Not connected.");
}
