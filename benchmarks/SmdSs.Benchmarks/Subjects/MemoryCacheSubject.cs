using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;

namespace SmdSs.Benchmarks.Subjects;

/// <summary>Microsoft's in-process MemoryDistributedCache, registered as an application would.</summary>
internal sealed class MemoryCacheSubject : ICacheSubject
{
    public string Name => "Memory";

    public Task<StartedCache> StartAsync(CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        // The default SizeLimit (200 MB) would evict part of the 64 KiB working set and turn Gets
        // into misses; give it the same budget as the SMD-SS node.
        services.AddDistributedMemoryCache(o => o.SizeLimit = SmdSsSubject.MaxMemoryBytes);
        ServiceProvider provider = services.BuildServiceProvider();
        var cache = provider.GetRequiredService<IDistributedCache>();
        return Task.FromResult(new StartedCache(cache, provider.DisposeAsync));
    }
}
