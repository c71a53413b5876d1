using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Internal;
using Microsoft.Extensions.Options;

namespace SmdSs.Tests.Cache;

/// <summary>The contract run against Microsoft's MemoryDistributedCache: proves the contract itself is Microsoft's.</summary>
public sealed class MemoryDistributedCacheReferenceTests : DistributedCacheContract
{
    public MemoryDistributedCacheReferenceTests()
    {
        Cache = new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions { Clock = new FakeClock(Time) }));
    }

    protected override IDistributedCache Cache { get; }

    private sealed class FakeClock(TimeProvider time) : ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
}
