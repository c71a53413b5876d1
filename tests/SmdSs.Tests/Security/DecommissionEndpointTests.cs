using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SmdSs.AspNetCore;
using SmdSs.Model;
using SmdSs.Tests.Support;
using WebFarm;

namespace SmdSs.Tests.Security;

/// <summary>
/// Decommission, the one HTTP endpoint that changes the cluster: mapped only behind a policy the
/// app names, aimed at one node by id, and never leaving a node half-way out.
/// </summary>
public sealed class DecommissionEndpointTests : IDisposable
{
    private const string Policy = "SmdSsAdmin";
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Anonymous_callers_are_refused_and_the_node_stays()
    {
        await using WebApplication app = await StartAppAsync();
        using HttpClient client = app.GetTestClient();
        SmdSsNode node = app.Services.GetRequiredService<SmdSsNode>();

        using HttpResponseMessage response = await client.PostAsJsonAsync("/smdss/decommission", new SmdSsDecommissionRequest(node.NodeId!));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        AssertUp(node);
    }

    [Fact]
    public async Task An_administrator_naming_another_node_or_no_node_changes_nothing()
    {
        await using WebApplication app = await StartAppAsync();
        using HttpClient client = app.GetTestClient();
        client.DefaultRequestHeaders.Add(HeaderAuthentication.Header, "admin");
        SmdSsNode node = app.Services.GetRequiredService<SmdSsNode>();

        using HttpResponseMessage other = await client.PostAsJsonAsync("/smdss/decommission", new SmdSsDecommissionRequest("0123456789abcdef"));
        Assert.Equal(HttpStatusCode.Conflict, other.StatusCode);
        Assert.Contains("nothing was changed", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using HttpResponseMessage none = await client.PostAsJsonAsync("/smdss/decommission", new { something = "else" });
        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        AssertUp(node);
    }

    [Fact]
    public async Task The_sample_farm_maps_no_decommission_endpoint()
    {
        await using WebApplication app = WebFarmApp.Build(
            [$"--SmdSs:DataDirectory={_directory.Path}", "--SmdSs:Listen=127.0.0.1:0"],
            builder => builder.WebHost.UseTestServer());
        await app.StartAsync();
        using HttpClient client = app.GetTestClient();
        SmdSsNode node = app.Services.GetRequiredService<SmdSsNode>();

        using HttpResponseMessage response = await client.PostAsJsonAsync("/smdss/decommission", new SmdSsDecommissionRequest(node.NodeId!));
        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"got {response.StatusCode}");
        AssertUp(node);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_decommission_given_up_half_way_leaves_the_node_serving_not_leaving()
    {
        // One node: its slices have nowhere to go, so the decommission waits until it is canceled.
        await using SmdSsNode node = await TestNodes.StartAsync(_directory.Path, configure: o => o.InitialSliceCount = 2);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        Task decommission = node.DecommissionAsync(TimeSpan.FromHours(1), cancel.Token);
        await Eventually.TrueAsync(() => Self(node).State == NodeState.Leaving || decommission.IsCompleted, TimeSpan.FromSeconds(5), "the node started leaving");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => decommission);

        AssertUp(node);
        await node.SetAsync("after", new byte[] { 1 });
        Assert.Equal([1], await node.GetAsync("after"));
    }

    [Fact]
    public void Mapping_decommission_without_a_policy_is_refused()
    {
        WebApplication app = WebApplication.CreateBuilder().Build();
        Assert.Throws<ArgumentException>(() => app.MapSmdSsDecommission(""));
        Assert.Throws<ArgumentNullException>(() => app.MapSmdSsDecommission(null!));
    }

    public void Dispose() => _directory.Dispose();

    private static NodeRecord Self(SmdSsNode node) => node.Nodes.Find(NodeId.Parse(node.NodeId!))!;

    private static void AssertUp(SmdSsNode node)
    {
        Assert.True(node.IsRunning);
        Assert.Equal(NodeState.Up, Self(node).State);
    }

    private async Task<WebApplication> StartAppAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddSmdSs(o =>
        {
            o.DataDirectory = _directory.Path;
            o.Listen = "127.0.0.1:0";
        });
        builder.Services.AddAuthentication(HeaderAuthentication.Name).AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>(HeaderAuthentication.Name, null);
        builder.Services.AddAuthorization(o => o.AddPolicy(Policy, p => p.RequireRole("admin")));
        WebApplication app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapSmdSsDecommission(Policy);
        await app.StartAsync();
        return app;
    }

    /// <summary>Authenticates a request whose header names a role: enough to tell an administrator from a visitor.</summary>
    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string Name = "TestHeader";
        public const string Header = "X-Test-Role";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue(Header, out var role))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "tester"), new Claim(ClaimTypes.Role, role.ToString())], Name);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Name)));
        }
    }
}
