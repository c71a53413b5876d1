using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SmdSs;
using SmdSs.AspNetCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers SMD-SS: the embedded node, <see cref="IDistributedCache"/> and <see cref="ISmdSsKeyValueStore"/>.</summary>
public static class SmdSsServiceCollectionExtensions
{
    /// <summary>
    /// Adds an SMD-SS node configured in code. Registers the node (a singleton the host starts and
    /// stops), <see cref="IDistributedCache"/> and <see cref="IBufferDistributedCache"/> (replacing
    /// any registered before), and <see cref="ISmdSsKeyValueStore"/>. Options are validated when
    /// the host starts; a bad value fails the start with a message naming the option.
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static SmdSsBuilder AddSmdSs(this IServiceCollection services, Action<SmdSsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SmdSsOptions>().Configure(configure).ValidateOnStart();
        return AddCore(services);
    }

    /// <summary>
    /// Adds an SMD-SS node bound to <paramref name="configuration"/>, usually
    /// <c>builder.Configuration.GetSection("SmdSs")</c> (so appsettings, environment variables and
    /// <c>--SmdSs:Listen=...</c> on the command line all apply). Registers what
    /// <see cref="AddSmdSs(IServiceCollection, Action{SmdSsOptions})"/> does.
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static SmdSsBuilder AddSmdSs(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SmdSsOptions>().Bind(configuration).ValidateOnStart();
        return AddCore(services);
    }

    /// <summary>Adds a health check named <c>smdss</c> that reports the node's state.</summary>
    public static IHealthChecksBuilder AddSmdSs(this IHealthChecksBuilder builder, string name = "smdss")
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddCheck<SmdSsHealthCheck>(name, tags: ["smdss"]);
    }

    private static SmdSsBuilder AddCore(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SmdSsOptions>, SmdSsOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new SmdSsNode(
            sp.GetRequiredService<IOptions<SmdSsOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>(),
            sp.GetService<IMeterFactory>(),
            sp.GetServices<ISmdSsEntryProcessor>(),
            sp.GetServices<ISmdSsMapFunction>()));
        services.TryAddSingleton<ISmdSsKeyValueStore>(sp => sp.GetRequiredService<SmdSsNode>());
        services.TryAddSingleton<SmdSsDistributedCache>();
        services.Replace(ServiceDescriptor.Singleton<IDistributedCache>(sp => sp.GetRequiredService<SmdSsDistributedCache>()));
        services.Replace(ServiceDescriptor.Singleton<IBufferDistributedCache>(sp => sp.GetRequiredService<SmdSsDistributedCache>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SmdSsHostedService>());
        services.TryAddTransient<SmdSsHealthCheck>();
        return new SmdSsBuilder(services);
    }
}
