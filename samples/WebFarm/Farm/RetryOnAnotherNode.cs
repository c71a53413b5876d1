using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace WebFarm.Farm;

/// <summary>
/// YARP has no retry of its own. A GET or HEAD without a body that a node failed to answer
/// (connection refused or broken before any response header) is sent to the next available
/// node, until one answers or none is left; nothing of the response had reached the client.
/// Other methods are not retried: the dead node may have applied them.
/// </summary>
internal sealed class RetryOnAnotherNode(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        IReverseProxyFeature proxy = context.GetReverseProxyFeature();
        IReadOnlyList<DestinationState> candidates = proxy.AvailableDestinations;
        while (true)
        {
            await next(context).ConfigureAwait(false);
            if (!CanRetry(context) || proxy.ProxiedDestination is not { } failed)
            {
                return;
            }

            candidates = [.. candidates.Where(d => d != failed)];
            if (candidates.Count == 0)
            {
                return;
            }

            context.Features.Set<IForwarderErrorFeature>(null);
            context.Response.StatusCode = StatusCodes.Status200OK;
            proxy.AvailableDestinations = candidates;
        }
    }

    private static bool CanRetry(HttpContext context) =>
        context.Features.Get<IForwarderErrorFeature>() is { Error: ForwarderError.Request }
        && (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
        && context.Request.ContentLength is null or 0
        && !context.Request.Headers.ContainsKey("Transfer-Encoding")
        && !context.Response.HasStarted
        && !context.RequestAborted.IsCancellationRequested;
}
