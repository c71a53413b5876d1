using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using SmdSs.Model;
using SmdSs.Tests.Support;
using WebFarm;

namespace SmdSs.Tests.AspNetCore;

/// <summary>ASP.NET session state over SMD-SS, in the sample app on a TestServer.</summary>
public sealed partial class SessionStateTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task A_session_value_is_read_in_the_next_request_and_survives_a_host_restart()
    {
        string? cookie;
        await using (WebApplication first = await StartAppAsync())
        {
            using HttpClient client = first.GetTestClient();
            (int visits, cookie) = await VisitAsync(client, null);
            Assert.Equal(1, visits);
            (visits, cookie) = await VisitAsync(client, cookie);
            Assert.Equal(2, visits);
            await first.StopAsync();
        }

        await using WebApplication second = await StartAppAsync();
        using HttpClient again = second.GetTestClient();
        (int afterRestart, _) = await VisitAsync(again, cookie);
        Assert.Equal(3, afterRestart);
    }

    [Fact]
    public async Task A_request_without_the_cookie_starts_a_new_session()
    {
        await using WebApplication app = await StartAppAsync();
        using HttpClient client = app.GetTestClient();
        (_, string? cookie) = await VisitAsync(client, null);
        await VisitAsync(client, cookie);

        (int visits, _) = await VisitAsync(client, null);
        Assert.Equal(1, visits);
    }

    [Fact]
    public async Task The_page_and_its_header_name_the_serving_node_and_the_session_lists_it()
    {
        await using WebApplication app = await StartAppAsync();
        using HttpClient client = app.GetTestClient();
        string nodeId = app.Services.GetRequiredService<SmdSsNode>().NodeId!;
        (_, string? cookie) = await VisitAsync(client, null);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("Cookie", cookie);
        using HttpResponseMessage response = await client.SendAsync(request);
        string html = await response.Content.ReadAsStringAsync();
        Assert.Equal(nodeId, Assert.Single(response.Headers.GetValues(WebFarmApp.NodeHeader)));
        Assert.Contains($"<code id=\"node\">{nodeId}</code>", html, StringComparison.Ordinal);

        // One row per node that served the session, with its request count.
        Assert.Contains($"<td><code>{nodeId}</code></td><td>127.0.0.1:0</td><td class=\"n\">2</td>", html, StringComparison.Ordinal);
    }

    public void Dispose() => _directory.Dispose();

    private async Task<WebApplication> StartAppAsync()
    {
        WebApplication app = WebFarmApp.Build(
            [$"--SmdSs:DataDirectory={_directory.Sub("node")}", "--SmdSs:FsyncPolicy=Always", "--SmdSs:Listen=127.0.0.1:0"],
            builder =>
            {
                builder.WebHost.UseTestServer();
                // The cookie is protected by the data-protection key ring; the restarted host must read it.
                builder.Services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(_directory.Sub("keys")));
            });
        await app.StartAsync();
        return app;
    }

    private static async Task<(int Visits, string? Cookie)> VisitAsync(HttpClient client, string? cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string html = await response.Content.ReadAsStringAsync();
        int visits = int.Parse(VisitsPattern().Match(html).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        string? issued = response.Headers.TryGetValues("Set-Cookie", out var values)
            ? values.First().Split(';')[0]
            : null;
        return (visits, issued ?? cookie);
    }

    [GeneratedRegex("<span id=\"visits\">(\\d+)</span>")]
    private static partial Regex VisitsPattern();
}
