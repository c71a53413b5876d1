using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using SmdSs;
using SmdSs.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the SMD-SS operational endpoints.</summary>
public static class SmdSsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET {prefix}/status</c>: this node's node map, slice map and digests as JSON
    /// (read-only; it names the nodes' cluster endpoints, so protect it as any admin endpoint
    /// when the app faces the internet, for example with <c>.RequireAuthorization()</c> on the
    /// returned builder).
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="prefix">The route prefix. Default <c>/smdss</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is null.</exception>
    public static RouteGroupBuilder MapSmdSs(this IEndpointRouteBuilder endpoints, string prefix = "/smdss")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        RouteGroupBuilder group = endpoints.MapGroup(prefix);
        group.MapGet("/status", (SmdSsNode node) => node.IsRunning ? Results.Json(node.GetStatus()) : Results.Problem("The SMD-SS node is not running.", statusCode: 503));
        return group;
    }

    /// <summary>
    /// Maps <c>POST {prefix}/decommission</c>, allowed only to callers that meet the app's
    /// <paramref name="authorizationPolicy"/>. The body names the node to take out,
    /// <c>{"nodeId":"…"}</c> (this node's id, as <c>/status</c> shows it), so that a request the
    /// load balancer sent to another node does nothing (409). The node moves every slice to other
    /// nodes, leaves the cluster for good and stops the app: 202 when done. Whatever the caller's
    /// connection does, it runs to completion or rolls back: 409 when the slices could not be moved
    /// within 5 minutes, 503 when the app began stopping first; either way the node keeps serving.
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="authorizationPolicy">The name of an authorization policy of the app (<c>AddAuthorization</c>) that an administrator meets.</param>
    /// <param name="prefix">The route prefix. Default <c>/smdss</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="authorizationPolicy"/> is null or empty.</exception>
    public static RouteHandlerBuilder MapSmdSsDecommission(this IEndpointRouteBuilder endpoints, string authorizationPolicy, string prefix = "/smdss")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(authorizationPolicy);
        return endpoints.MapPost(prefix.TrimEnd('/') + "/decommission", DecommissionAsync).RequireAuthorization(authorizationPolicy);
    }

    private static async Task<IResult> DecommissionAsync(SmdSsDecommissionRequest? request, SmdSsNode node, IHostApplicationLifetime lifetime)
    {
        if (string.IsNullOrEmpty(request?.NodeId))
        {
            return Results.Problem("The body must name the node to decommission: {\"nodeId\":\"…\"}.", statusCode: 400);
        }

        if (!string.Equals(request.NodeId, node.NodeId, StringComparison.OrdinalIgnoreCase))
        {
            return Results.Problem($"This is node {node.NodeId}, not {request.NodeId}: nothing was changed.", statusCode: 409);
        }

        try
        {
            // Not the request's token: a caller that hangs up must not leave the node half-way out.
            await node.DecommissionAsync(TimeSpan.FromMinutes(5), lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            return Results.Problem(ex.Message, statusCode: 409);
        }
        catch (OperationCanceledException)
        {
            return Results.Problem("The app began stopping before every slice moved; the node stays in the cluster.", statusCode: 503);
        }

        // The node has left the cluster; the process has nothing more to do for it.
        lifetime.StopApplication();
        return Results.Accepted();
    }
}
