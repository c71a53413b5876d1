using SmdSs.Tests.Support;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// The cluster secret on real nodes with real clocks and gossip: the same secret forms a cluster;
/// different secrets, or a secret on one side only, never do (each side refuses the other's
/// handshake, with a logged reason), and both nodes keep serving on their own.
/// </summary>
public sealed class ClusterSecretTests
{
    private const string Alpha = "alpha-secret-0123456789";
    private const string Bravo = "bravo-secret-0123456789";

    /// <summary>How long the two nodes must stay apart once a refusal was seen (gossip runs every 200 ms).</summary>
    private static readonly TimeSpan ApartFor = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Two_nodes_with_the_same_secret_form_a_cluster()
    {
        await using LoggedNode b = await LoggedNode.StartAsync(o => o.ClusterSecret = Alpha, TimeProvider.System);
        await using LoggedNode a = await LoggedNode.StartAsync(o => { o.ClusterSecret = Alpha; o.Friends.Add(b.Endpoint); }, TimeProvider.System);

        await Eventually.TrueAsync(
            () => a.Node.Nodes.Count == 2 && b.Node.Nodes.Count == 2,
            TimeSpan.FromSeconds(10),
            "both nodes see each other");
        Assert.NotNull(a.Node.Nodes.Find(b.Node.Self));
        Assert.NotNull(b.Node.Nodes.Find(a.Node.Self));
        Assert.Empty(a.RefusalReasons);
        Assert.Empty(b.RefusalReasons);
    }

    [Fact]
    public async Task Nodes_half_way_through_a_secret_rotation_form_one_cluster()
    {
        // Step 2 of a rotation: one node already offers the new secret (accepting the old), the
        // other still offers the old one (accepting the new). Each connects to the other.
        string endpointA = $"127.0.0.1:{FreePorts.Next()}";
        string endpointB = $"127.0.0.1:{FreePorts.Next()}";
        await using LoggedNode b = await LoggedNode.StartAsync(
            o => { o.ClusterSecret = Alpha; o.AdditionalClusterSecrets.Add(Bravo); o.Listen = endpointB; o.Friends.Add(endpointA); }, TimeProvider.System);
        await using LoggedNode a = await LoggedNode.StartAsync(
            o => { o.ClusterSecret = Bravo; o.AdditionalClusterSecrets.Add(Alpha); o.Listen = endpointA; o.Friends.Add(endpointB); }, TimeProvider.System);

        await Eventually.TrueAsync(() => a.Node.Nodes.Count == 2 && b.Node.Nodes.Count == 2, TimeSpan.FromSeconds(10), "both nodes see each other");
        await a.Node.SetAsync("from-a", new byte[] { 1 });
        await Eventually.TrueAsync(async () => await b.Node.GetAsync("from-a") is [1], TimeSpan.FromSeconds(10), "b reads a's write");
        Assert.Empty(a.RefusalReasons);
        Assert.Empty(b.RefusalReasons);
    }

    [Fact]
    public async Task A_node_allowed_to_run_without_a_secret_warns_at_every_start()
    {
        for (int start = 1; start <= 2; start++)
        {
            await using LoggedNode node = await LoggedNode.StartAsync(o => { o.ClusterSecret = null; o.AllowInsecureCluster = true; });
            Assert.Single(node.Logs.GetSnapshot(), r => r.Id.Id == 303 && r.Level == Microsoft.Extensions.Logging.LogLevel.Warning && r.Message.Contains("travels in clear", StringComparison.Ordinal));
        }

        await using LoggedNode secured = await LoggedNode.StartAsync();
        Assert.DoesNotContain(secured.Logs.GetSnapshot(), r => r.Id.Id == 303);
    }

    [Fact]
    public async Task Nodes_with_different_secrets_or_a_secret_on_one_side_only_never_form_a_cluster()
    {
        (string? A, string? B)[] pairs = [(Alpha, Bravo), (null, Bravo), (Alpha, null)];
        await Task.WhenAll(pairs.Select(pair => AssertNeverClusterAsync(pair.A, pair.B)));
    }

    private static async Task AssertNeverClusterAsync(string? secretA, string? secretB)
    {
        string what = $"A secret {secretA ?? "(none)"}, B secret {secretB ?? "(none)"}";
        // Fixed ports, so that each node can be the other's friend: both sides try, both refuse.
        string endpointA = $"127.0.0.1:{FreePorts.Next()}";
        string endpointB = $"127.0.0.1:{FreePorts.Next()}";
        await using LoggedNode b = await LoggedNode.StartAsync(
            o => { o.ClusterSecret = secretB; o.Listen = endpointB; o.Friends.Add(endpointA); }, TimeProvider.System);
        await using LoggedNode a = await LoggedNode.StartAsync(
            o => { o.ClusterSecret = secretA; o.Listen = endpointA; o.Friends.Add(endpointB); }, TimeProvider.System);

        // Each side's client proves first, and each side's server refuses the proof.
        await a.WaitForRefusalAsync("wrong or missing cluster secret", TimeSpan.FromSeconds(10));
        await b.WaitForRefusalAsync("wrong or missing cluster secret", TimeSpan.FromSeconds(10));

        DateTime until = DateTime.UtcNow + ApartFor;
        while (DateTime.UtcNow < until)
        {
            Assert.True(a.Node.Nodes.Count == 1, $"{what}: A's node map has {a.Node.Nodes.Count} nodes");
            Assert.True(b.Node.Nodes.Count == 1, $"{what}: B's node map has {b.Node.Nodes.Count} nodes");
            await Task.Delay(50);
        }

        Assert.Null(a.Node.Nodes.Find(b.Node.Self));
        Assert.Null(b.Node.Nodes.Find(a.Node.Self));

        // Each still serves on its own.
        await a.Node.SetAsync("mine", new byte[] { 1 });
        await b.Node.SetAsync("mine", new byte[] { 2 });
        Assert.Equal([1], await a.Node.GetAsync("mine"));
        Assert.Equal([2], await b.Node.GetAsync("mine"));
    }
}
