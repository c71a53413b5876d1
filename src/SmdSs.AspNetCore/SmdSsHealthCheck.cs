using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SmdSs.AspNetCore;

/// <summary>
/// Healthy while the node runs and its background work (fsync, compaction) succeeds; Degraded
/// when the last background round failed or the keys alone exceed MaxMemoryBytes; Unhealthy when
/// the node is not running.
/// </summary>
internal sealed class SmdSsHealthCheck(SmdSsNode node) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (node.Store is not { } store)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The SMD-SS node is not running."));
        }

        var data = new Dictionary<string, object>
        {
            ["nodeId"] = node.NodeId ?? string.Empty,
            ["entries"] = store.Count,
            ["memoryBytes"] = store.Memory.UsedBytes,
            ["diskBytes"] = store.DiskBytes,
        };
        HealthCheckResult result = node.LastMaintenanceError is { } error
            ? HealthCheckResult.Degraded("SMD-SS background maintenance failed: " + error.Message, error, data)
            : store.Memory.IsOver
                ? HealthCheckResult.Degraded("SMD-SS memory use is over MaxMemoryBytes with every value evicted.", data: data)
                : HealthCheckResult.Healthy("SMD-SS node is running.", data);
        return Task.FromResult(result);
    }
}
