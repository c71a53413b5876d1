using Microsoft.Extensions.Hosting;

namespace SmdSs.AspNetCore;

/// <summary>Starts the node with the host (loads the slice files) and stops it with the host (flushes and closes them).</summary>
internal sealed class SmdSsHostedService(SmdSsNode node) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => node.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => node.StopAsync(CancellationToken.None);
}
