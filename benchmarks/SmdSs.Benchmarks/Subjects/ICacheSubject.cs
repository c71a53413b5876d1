using Microsoft.Extensions.Caching.Distributed;

namespace SmdSs.Benchmarks.Subjects;

/// <summary>A cache under test: a name for the result table and a factory for a fresh, ready cache.</summary>
internal interface ICacheSubject
{
    string Name { get; }

    /// <summary>Builds and starts an empty cache; disposing the result stops it and removes what it left behind.</summary>
    Task<StartedCache> StartAsync(CancellationToken cancellationToken);
}
