using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Tests.Support;
using SmdSs.Transport;

namespace SmdSs.Tests.Cluster;

/// <summary>SWIM-style indirect probes: a broken link between two nodes is not a dead node.</summary>
[Collection(ClusterTestGroup.Name)]
public sealed class FailureDetectionTests
{
    // 600 ms: an indirect probe round then outlasts the 500 ms ping tick, so that with a 2 s
    // timeout the only contact between the two nodes comes about once a second, past the 0.8 s
    // after which a node whose last probe round failed is Suspect. A slow round is not a failed one.
    // Without the delay the timeout is 3 s: the helper's own ping then has 0.9 s, which a machine
    // busy with other tests does not outlast, and 5 s of broken link still outlasts the timeout.
    [Theory]
    [InlineData(0, 3000)]
    [InlineData(600, 2000)]
    public async Task A_broken_link_between_two_nodes_does_not_make_either_declare_the_other_down(int indirectProbeDelayMs, int timeoutMs)
    {
        var transports = new FaultyTransport?[3];
        bool broken = false;
        string?[] endpoints = new string?[3];
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3, o => o.FailureDetectionTimeout = TimeSpan.FromMilliseconds(timeoutMs), (index, inner) =>
            transports[index] = new FaultyTransport(
                inner,
                (endpoint, _) => Volatile.Read(ref broken) && ((index == 0 && endpoint == endpoints[2]) || (index == 2 && endpoint == endpoints[0])),
                (_, type) => Volatile.Read(ref broken) && type == MessageType.PingRequest ? TimeSpan.FromMilliseconds(indirectProbeDelayMs) : TimeSpan.Zero));
        for (int i = 0; i < 3; i++)
        {
            endpoints[i] = cluster.Node(i).Endpoint;
        }

        await cluster.WaitSettledAsync();
        string id0 = cluster.Node(0).NodeId!;
        string id2 = cluster.Node(2).NodeId!;
        Volatile.Write(ref broken, true);
        DateTime brokenAt = DateTime.UtcNow;

        // Long past the timeout, with many messages dropped both ways; each view sampled all along.
        var seen = new HashSet<string>();
        await Eventually.TrueAsync(
            () =>
            {
                seen.Add(cluster.Node(0).GetStatus().Nodes.Single(n => n.Id == id2).State);
                seen.Add(cluster.Node(2).GetStatus().Nodes.Single(n => n.Id == id0).State);
                return DateTime.UtcNow - brokenAt > TimeSpan.FromSeconds(5) && transports[0]!.Dropped > 10 && transports[2]!.Dropped > 10;
            },
            TimeSpan.FromSeconds(20), "link broken for 5 s");

        Assert.Equal("Up", cluster.Node(0).GetStatus().Nodes.Single(n => n.Id == id2).State);
        Assert.Equal("Up", cluster.Node(2).GetStatus().Nodes.Single(n => n.Id == id0).State);
        Assert.Equal(["Up"], seen);
    }

    [Fact]
    public async Task A_node_that_is_really_gone_is_down_within_the_timeout_plus_a_probe_round()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(3, o => o.FailureDetectionTimeout = TimeSpan.FromSeconds(2));
        await cluster.WaitSettledAsync();
        string victim = cluster.Node(2).NodeId!;
        await cluster.CrashNodeAsync(2);

        // The bound: the 2 s timeout plus a probe round and gossip, with slack for a busy machine.
        await Eventually.TrueAsync(() => cluster.Node(0).GetStatus().Nodes.Single(n => n.Id == victim).State == "Down", TimeSpan.FromSeconds(6), "crash detected within the bound");
    }
}
