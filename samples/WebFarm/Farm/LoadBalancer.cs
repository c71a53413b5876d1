using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;

namespace WebFarm.Farm;

/// <summary>
/// The farm's front door: YARP in this process, round-robin over the nodes. A node leaves the
/// rotation at its first refused or broken connection (<see cref="FirstFailurePolicy"/>) or after
/// two failed probes of <c>/health</c> (one a second), and comes back once probes pass again.
/// A GET that a dead node did not answer is sent to another node (<see cref="RetryOnAnotherNode"/>).
/// </summary>
internal sealed class LoadBalancer(WebApplication app) : IAsyncDisposable
{
    private const string ClusterId = "farm";

    public Uri Url { get; } = new(app.Urls.First());

    public static async Task<LoadBalancer> StartAsync(FarmOptions options, IReadOnlyList<NodeProcess> nodes)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });

        // appsettings.json and the environment configure the farm's members, not this.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.WebHost.UseUrls($"http://127.0.0.1:{options.Port}");

        // The launcher handles Ctrl+C itself: it stops the nodes first.
        builder.Services.AddSingleton<IHostLifetime, LauncherHostLifetime>();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        // Warnings say when a node leaves or rejoins the rotation; the probes' own failures
        // (a stack trace a second while a node is down) are left out.
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Yarp.ReverseProxy.Health.ActiveHealthCheckMonitor", LogLevel.Error);
        builder.Services.AddSingleton<IPassiveHealthCheckPolicy, FirstFailurePolicy>();
        builder.Services.AddReverseProxy().LoadFromMemory([Route()], [Cluster(nodes)]);

        WebApplication app = builder.Build();
        // Admin endpoints are for the nodes' own addresses, never for visitors of the farm.
        app.Use((context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/smdss/decommission", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
        app.MapReverseProxy(proxy =>
        {
            proxy.UseMiddleware<RetryOnAnotherNode>();
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        });
        await app.StartAsync().ConfigureAwait(false);
        return new LoadBalancer(app);
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await app.StopAsync(cancellationToken).ConfigureAwait(false);

    public async ValueTask DisposeAsync() => await app.DisposeAsync().ConfigureAwait(false);

    private static RouteConfig Route() => new()
    {
        RouteId = ClusterId,
        ClusterId = ClusterId,
        Match = new RouteMatch { Path = "{**path}" },
    };

    private static ClusterConfig Cluster(IReadOnlyList<NodeProcess> nodes) => new()
    {
        ClusterId = ClusterId,
        LoadBalancingPolicy = LoadBalancingPolicies.RoundRobin,
        HealthCheck = new HealthCheckConfig
        {
            Active = new ActiveHealthCheckConfig
            {
                Enabled = true,
                Interval = TimeSpan.FromSeconds(1),
                Timeout = TimeSpan.FromSeconds(2),
                Policy = "ConsecutiveFailures",
                Path = "/health",
            },
            Passive = new PassiveHealthCheckConfig
            {
                Enabled = true,
                Policy = FirstFailurePolicy.PolicyName,
                ReactivationPeriod = TimeSpan.FromSeconds(5),
            },
        },
        Destinations = nodes.ToDictionary(n => n.Name, n => new DestinationConfig { Address = n.HttpUrl.ToString() }),
    };
}
