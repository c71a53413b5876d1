using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using SmdSs.Tests.Support;
using WebFarm;

namespace SmdSs.Tests.AspNetCore;

/// <summary>
/// MapSmdSsDashboard: the page is self-contained (no resource from the network), and
/// GET {prefix}/dashboard.json returns the pie and the node table in the documented shape,
/// next to MapSmdSs's endpoints on the same prefix.
/// </summary>
public sealed partial class DashboardEndpointTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Dashboard_json_has_the_summary_every_node_and_every_slice()
    {
        await using WebApplication app = await StartAsync();
        using HttpClient client = app.GetTestClient();
        var store = app.Services.GetRequiredService<ISmdSsKeyValueStore>();
        // The sample keeps its Data Protection key ring in SMD-SS too: one more key. Load (or
        // create) the ring now, so that its reads and writes are not counted below.
        app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Protect("warm");
        long before;
        using (JsonDocument first = await GetJsonAsync(client, "/smdss/dashboard.json"))
        {
            before = first.RootElement.GetProperty("nodes")[0].GetProperty("operations").GetInt64();
        }

        // A request through the sample's pipeline may itself cost operations (the session
        // middleware refreshes its entry): measure one, and count it in.
        long perRequest;
        using (JsonDocument again = await GetJsonAsync(client, "/smdss/dashboard.json"))
        {
            perRequest = again.RootElement.GetProperty("nodes")[0].GetProperty("operations").GetInt64() - before;
            before += 2 * perRequest;
        }

        // The key ring is reserved: SMD-SS's own view of it, not the API's.
        int ring = await app.Services.GetRequiredService<SmdSsNode>().GetVersionedInternalAsync(SmdSsDataProtectionBuilderExtensions.DefaultKey) is not null ? 1 : 0;
        for (int i = 0; i < 5; i++)
        {
            await store.SetAsync("k" + i, new byte[] { 1, 2, 3 });
        }

        Assert.Null(await store.GetAsync("missing"));

        using JsonDocument json = await GetJsonAsync(client, "/smdss/dashboard.json");
        JsonElement root = json.RootElement;
        string nodeId = root.GetProperty("nodeId").GetString()!;
        Assert.Matches("^[0-9a-f]{16}$", nodeId);
        Assert.True(root.GetProperty("sampledAtMs").GetInt64() > 0);

        JsonElement summary = root.GetProperty("summary");
        Assert.Equal(1, summary.GetProperty("nodesUp").GetInt32());
        Assert.Equal(1, summary.GetProperty("nodesKnown").GetInt32());
        Assert.Equal(1, summary.GetProperty("nodesReachable").GetInt32());
        Assert.Equal(16, summary.GetProperty("slices").GetInt32());
        Assert.Equal(5 + ring, summary.GetProperty("keys").GetInt64());
        Assert.Equal(5 + ring, summary.GetProperty("copies").GetInt64());
        Assert.True(summary.GetProperty("digestsAgree").GetBoolean());
        Assert.Equal(1, summary.GetProperty("digestsAgreeing").GetInt32());
        Assert.Matches("^[0-9a-f]{32}$", summary.GetProperty("sliceMapDigest").GetString()!);

        JsonElement node = Assert.Single(root.GetProperty("nodes").EnumerateArray());
        Assert.Equal(nodeId, node.GetProperty("id").GetString());
        Assert.Equal("Up", node.GetProperty("state").GetString());
        Assert.True(node.GetProperty("isSelf").GetBoolean());
        Assert.True(node.GetProperty("reachable").GetBoolean());
        Assert.Matches("^#[0-9a-f]{6}$", node.GetProperty("color").GetString()!);
        Assert.Equal(16, node.GetProperty("primarySlices").GetInt32());
        Assert.Equal(0, node.GetProperty("replicaSlices").GetInt32());
        Assert.Equal(0, node.GetProperty("catchingUpSlices").GetInt32());
        Assert.Equal(5 + ring, node.GetProperty("keys").GetInt64());
        Assert.True(node.GetProperty("diskBytes").GetInt64() > 0);
        Assert.True(node.GetProperty("memoryBytes").GetInt64() > 0);
        Assert.Equal(before + 6, node.GetProperty("operations").GetInt64()); // 5 sets and 1 get
        Assert.True(node.GetProperty("sliceMapAgrees").GetBoolean());

        var slices = root.GetProperty("slices").EnumerateArray().ToList();
        Assert.Equal(16, slices.Count);
        Assert.Equal(0u, slices[0].GetProperty("start").GetUInt32());
        Assert.Equal(uint.MaxValue, slices[^1].GetProperty("end").GetUInt32());
        Assert.All(slices, s =>
        {
            Assert.Equal(nodeId, s.GetProperty("primary").GetString());
            JsonElement replica = Assert.Single(s.GetProperty("replicas").EnumerateArray());
            Assert.Equal(nodeId, replica.GetProperty("id").GetString());
            Assert.True(replica.GetProperty("inSync").GetBoolean());
        });

        // MapSmdSs on the same prefix still answers.
        using HttpResponseMessage status = await client.GetAsync("/smdss/status");
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task Operations_per_second_appear_once_two_samples_are_a_second_apart()
    {
        await using WebApplication app = await StartAsync();
        using HttpClient client = app.GetTestClient();
        using (JsonDocument first = await GetJsonAsync(client, "/smdss/dashboard.json"))
        {
            Assert.Equal(JsonValueKind.Null, first.RootElement.GetProperty("nodes")[0].GetProperty("opsPerSecond").ValueKind);
        }

        await Eventually.TrueAsync(
            async () =>
            {
                using JsonDocument json = await GetJsonAsync(client, "/smdss/dashboard.json");
                return json.RootElement.GetProperty("nodes")[0].GetProperty("opsPerSecond").ValueKind == JsonValueKind.Number;
            },
            TimeSpan.FromSeconds(10),
            "a rate once the node's clock moved a second");
        await app.StopAsync();
    }

    [Theory]
    [InlineData("/smdss")]
    [InlineData("/smdss/")]
    public async Task The_page_is_served_self_contained(string path)
    {
        await using WebApplication app = await StartAsync();
        using HttpClient client = app.GetTestClient();

        using HttpResponseMessage response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<svg id=\"pie\"", html, StringComparison.Ordinal);
        Assert.Contains("id=\"node-table\"", html, StringComparison.Ordinal);
        Assert.Contains("/dashboard.json", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(ExternalReference(), html);

        // The policy lets exactly the page's own script run and requests go to this origin only.
        string policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", policy, StringComparison.Ordinal);
        string script = Regex.Match(html, "<script>(.*?)</script>", RegexOptions.Singleline).Groups[1].Value;
        Assert.Contains("'sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(script))) + "'", policy, StringComparison.Ordinal);
        await app.StopAsync();
    }

    public void Dispose() => _directory.Dispose();

    // src= or href= to anything but a data: URI or an in-page fragment; @import or url() of a remote file; a protocol-relative URL.
    [GeneratedRegex("""(?:src|href)\s*=\s*["'](?!data:|#)|@import|url\((?!#)|["']//""", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();

    private async Task<WebApplication> StartAsync()
    {
        WebApplication app = WebFarmApp.Build(
            [$"--SmdSs:DataDirectory={_directory.Path}", "--SmdSs:Listen=127.0.0.1:0"],
            builder => builder.WebHost.UseTestServer());
        await app.StartAsync();
        return app;
    }

    private static async Task<JsonDocument> GetJsonAsync(HttpClient client, string path)
    {
        using HttpResponseMessage response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }
}
