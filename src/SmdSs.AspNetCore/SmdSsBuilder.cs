using Microsoft.Extensions.DependencyInjection;

namespace SmdSs;

/// <summary>Returned by <c>AddSmdSs</c> for further SMD-SS configuration.</summary>
public sealed class SmdSsBuilder
{
    internal SmdSsBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection SMD-SS was added to.</summary>
    public IServiceCollection Services { get; }
}
