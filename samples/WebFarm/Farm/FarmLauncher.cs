namespace WebFarm.Farm;

/// <summary>
/// <c>WebFarm farm</c>: starts N farm members as child processes and, once they serve, a load
/// balancer in front of them; prints where to go; on Ctrl+C or SIGTERM stops the members
/// gracefully (each says goodbye to the cluster), kills any that hangs, and exits 0.
/// </summary>
internal sealed class FarmLauncher(FarmOptions options) : IDisposable
{
    public const string Command = "farm";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    // Past the host's graceful stop (the node's goodbye is bounded at a few seconds).
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly Signals _signals = new();
    private readonly List<NodeProcess> _nodes = [.. Enumerable.Range(1, options.Nodes).Select(i => NodeProcess.Create(options, i))];
    private LoadBalancer? _balancer;

    /// <summary>Runs the launcher with the arguments after <c>farm</c>; the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(FarmOptions.Usage);
            return 0;
        }

        FarmOptions options;
        try
        {
            options = FarmOptions.Parse(args);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message + Environment.NewLine + FarmOptions.Usage).ConfigureAwait(false);
            return 2;
        }

        using var launcher = new FarmLauncher(options);
        return await launcher.RunAsync().ConfigureAwait(false);
    }

    public void Dispose()
    {
        // Whatever went wrong, no node outlives the launcher.
        _nodes.ForEach(n => n.Kill());
        _nodes.ForEach(n => n.Dispose());
        _signals.Dispose();
    }

    private async Task<int> RunAsync()
    {
        using CancellationTokenRegistration kill = _signals.Kill.Register(() => _nodes.ForEach(n => n.Kill()));
        int exitCode = await StartAsync().ConfigureAwait(false);
        if (exitCode == 0)
        {
            FarmConsole.WriteLine(FarmBanner.Render(_balancer!, _nodes));
            await WaitForStopAsync().ConfigureAwait(false);
        }

        FarmConsole.WriteLine("Stopping the farm...");
        await Task.WhenAll([.. _nodes.Select(n => n.StopAsync(StopTimeout)), StopBalancerAsync()]).ConfigureAwait(false);
        FarmConsole.WriteLine("Farm stopped.");
        return exitCode;
    }

    /// <summary>Starts the nodes, waits until they serve, then starts the load balancer; 0 when all went well.</summary>
    private async Task<int> StartAsync()
    {
        FarmConsole.WriteLine($"Starting {_nodes.Count} nodes (logs in {Path.GetDirectoryName(_nodes[0].LogFile)})...");
        try
        {
            _nodes.ForEach(n => n.Start());
            await FarmReadiness.WaitAsync(_nodes, StartTimeout, _signals.Stop).ConfigureAwait(false);
            _balancer = await LoadBalancer.StartAsync(options, _nodes).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (_signals.Stop.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or System.ComponentModel.Win32Exception)
        {
            // A node that could not start, or the load balancer's port in use.
            FarmConsole.WriteLine("The farm did not start: " + ex.Message);
            return 1;
        }
    }

    private async Task WaitForStopAsync()
    {
        try
        {
            await Task.Delay(Timeout.Infinite, _signals.Stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM.
        }
    }

    private async Task StopBalancerAsync()
    {
        if (_balancer is not null)
        {
            await _balancer.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await _balancer.DisposeAsync().ConfigureAwait(false);
        }
    }
}
