using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace SmdSs;

/// <summary>Returned by <c>AddSmdSs</c> for further SMD-SS configuration.</summary>
public sealed class SmdSsBuilder
{
    internal SmdSsBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection SMD-SS was added to.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Registers an entry processor (a singleton) that <see cref="ISmdSsKeyValueStore.ExecuteAsync"/>
    /// runs by its name. Register the same processors on every node of the farm.
    /// </summary>
    public SmdSsBuilder AddProcessor<TProcessor>()
        where TProcessor : class, ISmdSsEntryProcessor
    {
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<ISmdSsEntryProcessor, TProcessor>());
        return this;
    }

    /// <summary>
    /// Registers a map function (a singleton) that <see cref="ISmdSsKeyValueStore.MapAsync"/> runs by
    /// its name. Register the same map functions on every node of the farm.
    /// </summary>
    public SmdSsBuilder AddMapFunction<TMapFunction>()
        where TMapFunction : class, ISmdSsMapFunction
    {
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<ISmdSsMapFunction, TMapFunction>());
        return this;
    }
}
