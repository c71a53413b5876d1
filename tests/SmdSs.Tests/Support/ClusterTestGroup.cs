namespace SmdSs.Tests.Support;

/// <summary>
/// Multi-node tests run one at a time: each starts several nodes with timers and sockets, and
/// on a 2-core machine running them side by side measures the scheduler, not the code.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ClusterTestGroup
{
    public const string Name = "Cluster";
}
