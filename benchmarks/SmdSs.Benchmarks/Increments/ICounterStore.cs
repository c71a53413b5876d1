namespace SmdSs.Benchmarks.Increments;

/// <summary>What an increment worker process measures: an SMD-SS node it embeds, or a Redis connection.</summary>
internal interface ICounterStore : IAsyncDisposable
{
    /// <summary>Connects or starts; returns what the harness needs to know (the node's cluster endpoint, or "-").</summary>
    Task<string> StartAsync(CancellationToken cancellationToken);

    /// <summary>Adds 1 to the counter and returns once the store acknowledged it.</summary>
    Task IncrementAsync(string key);

    /// <summary>Deletes the counters.</summary>
    Task ResetAsync(string[] keys, CancellationToken cancellationToken);

    /// <summary>The sum of the counters as read back now (a missing one counts 0).</summary>
    Task<long> SumAsync(string[] keys, CancellationToken cancellationToken);

    /// <summary>The store's view of the cluster as one line of JSON, or null when it has none (Redis).</summary>
    string? StatusJson();
}
