using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SmdSs;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the SMD-SS operational endpoints.</summary>
public static class SmdSsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET {prefix}/status</c> (this node's node map, slice map and digests as JSON) and
    /// <c>POST {prefix}/decommission</c> (moves every slice off this node, then stops it for good;
    /// 202 when done, 409 when the slices could not be moved in time). Protect them like any
    /// admin endpoint, for example with <c>.RequireAuthorization()</c> on the returned builder.
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="prefix">The route prefix. Default <c>/smdss</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is null.</exception>
    public static RouteGroupBuilder MapSmdSs(this IEndpointRouteBuilder endpoints, string prefix = "/smdss")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        RouteGroupBuilder group = endpoints.MapGroup(prefix);
        group.MapGet("/status", (SmdSsNode node) => node.IsRunning ? Results.Json(node.GetStatus()) : Results.Problem("The SMD-SS node is not running.", statusCode: 503));
        group.MapPost("/decommission", async (SmdSsNode node, IServiceProvider services, CancellationToken cancellationToken) =>
        {
            try
            {
                await node.DecommissionAsync(TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                return Results.Problem(ex.Message, statusCode: 409);
            }

            // The node has left the cluster; the process has nothing more to do for it.
            services.GetService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>()?.StopApplication();
            return Results.Accepted();
        });
        return group;
    }
}
