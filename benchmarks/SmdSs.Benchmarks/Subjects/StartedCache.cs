using Microsoft.Extensions.Caching.Distributed;

namespace SmdSs.Benchmarks.Subjects;

/// <summary>A running cache of one subject and how to tear it down.</summary>
internal sealed class StartedCache(IDistributedCache cache, Func<ValueTask> stop) : IAsyncDisposable
{
    public IDistributedCache Cache { get; } = cache;

    public ValueTask DisposeAsync() => stop();
}
