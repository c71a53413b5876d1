using SmdSs.Tests.Support;

namespace SmdSs.Tests.Simulation;

/// <summary>
/// Crashes and restarts nodes of an <see cref="InProcessCluster"/> as a kill -9 would. An
/// in-process crash cannot kill the tasks the node had running: the network cuts the crashed
/// instance off (<see cref="ChaosNetwork.Crash"/>), the node's maps file is put back as it was at
/// the crash before the next start (a dead process persists no later commit), and the restart
/// waits for the writers' operations that were running on the node to end.
/// </summary>
internal sealed class NodeCrasher(InProcessCluster cluster, ChaosNetwork network, Workload workload)
{
    private static readonly TimeSpan IdleBound = TimeSpan.FromSeconds(30);
    private readonly Dictionary<int, byte[]?> _statesAtCrash = [];

    public async Task CrashAsync(int node)
    {
        workload.Crashing(node);
        network.Crash(node);
        string state = StatePath(node);
        _statesAtCrash[node] = File.Exists(state) ? await File.ReadAllBytesAsync(state) : null;
        await cluster.CrashNodeAsync(node);
    }

    public async Task RestartAsync(int node)
    {
        await workload.WaitIdleAsync(node, IdleBound);
        if (_statesAtCrash.Remove(node, out byte[]? state) && state is not null)
        {
            await File.WriteAllBytesAsync(StatePath(node), state);
        }

        await cluster.StartNodeAsync(node);
        network.Register(node, cluster.Node(node).Endpoint!);
    }

    private string StatePath(int node) => Path.Combine(cluster.DataDirectory(node), "cluster.state");
}
