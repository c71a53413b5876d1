namespace WebFarm.Farm;

/// <summary>
/// A host lifetime that ignores Ctrl+C and SIGTERM: the launcher's own <see cref="Signals"/>
/// decide when the load balancer stops (after the nodes were told to).
/// </summary>
internal sealed class LauncherHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
