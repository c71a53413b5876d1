using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using SmdSs.Tests.Support;
using WebFarm;

namespace SmdSs.Tests.AspNetCore;

/// <summary>GET /smdss/status returns the node map, slice map and digests in the documented JSON shape.</summary>
public sealed class StatusEndpointTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Status_lists_nodes_slices_and_both_digests()
    {
        await using WebApplication app = WebFarmApp.Build(
            [$"--SmdSs:DataDirectory={_directory.Path}", "--SmdSs:Listen=127.0.0.1:0"],
            builder => builder.WebHost.UseTestServer());
        await app.StartAsync();
        using HttpClient client = app.GetTestClient();

        using HttpResponseMessage response = await client.GetAsync("/smdss/status");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using JsonDocument json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        JsonElement root = json.RootElement;
        string nodeId = root.GetProperty("nodeId").GetString()!;
        Assert.Matches("^[0-9a-f]{16}$", nodeId);
        Assert.Matches("^[0-9a-f]{32}$", root.GetProperty("nodeMapDigest").GetString()!);
        Assert.Matches("^[0-9a-f]{32}$", root.GetProperty("sliceMapDigest").GetString()!);
        JsonElement node = Assert.Single(root.GetProperty("nodes").EnumerateArray());
        Assert.Equal(nodeId, node.GetProperty("id").GetString());
        Assert.Equal("Up", node.GetProperty("state").GetString());
        Assert.StartsWith("127.0.0.1:", node.GetProperty("endpoint").GetString(), StringComparison.Ordinal);

        var slices = root.GetProperty("slices").EnumerateArray().ToList();
        Assert.Equal(16, slices.Count);
        Assert.Equal(0u, slices[0].GetProperty("start").GetUInt32());
        Assert.Equal(uint.MaxValue, slices[^1].GetProperty("end").GetUInt32());
        Assert.All(slices, s => Assert.Equal(nodeId, s.GetProperty("replicas")[0].GetString()));
        await app.StopAsync();
    }

    public void Dispose() => _directory.Dispose();
}
