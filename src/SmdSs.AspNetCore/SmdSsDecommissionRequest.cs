namespace SmdSs.AspNetCore;

/// <summary>The body of <c>POST {prefix}/decommission</c>: the id of the node to take out of the cluster.</summary>
/// <param name="NodeId">The node's id, as <c>GET {prefix}/status</c> shows it.</param>
public sealed record SmdSsDecommissionRequest(string NodeId);
