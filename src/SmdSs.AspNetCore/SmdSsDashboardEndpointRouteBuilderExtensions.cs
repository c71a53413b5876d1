using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using SmdSs;
using SmdSs.AspNetCore.Dashboard;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the SMD-SS live dashboard.</summary>
public static class SmdSsDashboardEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET {prefix}</c>, a live dashboard page (the pie-slice map as a pie, colored by
    /// primary, replicas as outer rings; a table of nodes with state, slices, keys, bytes and
    /// operations per second), and <c>GET {prefix}/dashboard.json</c>, the figures it polls once a
    /// second (every node is asked for its own; a silent node costs at most a second). The page
    /// loads nothing from the network. Coexists with <see cref="SmdSsEndpointRouteBuilderExtensions.MapSmdSs"/>
    /// on the same prefix. Protect it like any admin endpoint, for example with
    /// <c>.RequireAuthorization()</c> on the returned builder.
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="prefix">The route prefix. Default <c>/smdss</c>.</param>
    /// <returns>The group of both endpoints, for further configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is null.</exception>
    public static RouteGroupBuilder MapSmdSsDashboard(this IEndpointRouteBuilder endpoints, string prefix = "/smdss")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        RouteGroupBuilder group = endpoints.MapGroup(prefix);
        // One per dashboard: the rates need the previous sample, whichever browser tab asked for it.
        var rates = new OperationRates();
        group.MapGet("/", (HttpContext context) =>
        {
            context.Response.Headers.ContentSecurityPolicy = DashboardPage.ContentSecurityPolicy;
            context.Response.Headers.CacheControl = "no-store";
            return Results.Content(DashboardPage.Html, "text/html", Encoding.UTF8);
        });
        group.MapGet("/dashboard.json", async (SmdSsNode node, TimeProvider time, HttpContext context, CancellationToken cancellationToken) =>
        {
            if (!node.IsRunning)
            {
                return Results.Problem("The SMD-SS node is not running.", statusCode: 503);
            }

            SmdSsStatus status = node.GetStatus();
            IReadOnlyList<SmdSsNodeStats> stats = await node.GetClusterStatsAsync(cancellationToken).ConfigureAwait(false);
            DashboardSnapshot snapshot = DashboardSnapshotBuilder.Build(status, stats, rates.Update(stats), time.GetUtcNow().ToUnixTimeMilliseconds());
            context.Response.Headers.CacheControl = "no-store";
            return Results.Json(snapshot);
        });
        return group;
    }
}
