using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace WebFarm.Farm;

/// <summary>
/// Passive health: a node whose connection was refused, broken or timed out leaves the rotation
/// at once, for the cluster's reactivation period. YARP's own TransportFailureRate policy waits
/// for a failure rate over many requests; a farm node that fails to connect is simply gone.
/// </summary>
internal sealed class FirstFailurePolicy(IDestinationHealthUpdater health) : IPassiveHealthCheckPolicy
{
    public const string PolicyName = "FirstFailure";

    public string Name => PolicyName;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        if (IsNodeFailure(context.Features.Get<IForwarderErrorFeature>()?.Error ?? ForwarderError.None))
        {
            TimeSpan reactivation = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? TimeSpan.FromSeconds(5);
            health.SetPassive(cluster, destination, DestinationHealth.Unhealthy, reactivation);
        }
    }

    /// <summary>Errors on the node's side of the connection (the client's own errors do not count).</summary>
    public static bool IsNodeFailure(ForwarderError error) => error
        is ForwarderError.Request
        or ForwarderError.RequestTimedOut
        or ForwarderError.RequestBodyDestination
        or ForwarderError.ResponseBodyDestination;
}
