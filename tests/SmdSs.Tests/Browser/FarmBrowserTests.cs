using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Playwright;
using SmdSs.Model;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Browser;

/// <summary>
/// The sample farm as a visitor meets it, in headless Chromium through the load balancer: the
/// session count goes on while requests land on different nodes and after one node is killed,
/// and the dashboard shows the pie before and after the kill. Leaves screenshots of both and of
/// the session page in <see cref="TestArtifacts"/>'s <c>browser</c> folder.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed class FarmBrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Nodes = 3;
    private const int VisitsBeforeKill = 6;
    private const int VisitsAfterKill = 4;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(60);
    private const float PageTimeoutMs = 30_000;

    private readonly TempDirectory _directory = new();
    private readonly string _artifacts = TestArtifacts.Directory("browser");
    private FarmLauncherProcess? _launcher;
    private HeadlessChromium? _chromium;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_chromium is not null)
        {
            await _chromium.DisposeAsync();
        }

        if (_launcher is not null)
        {
            await _launcher.DisposeAsync();
        }

        _directory.Dispose();
    }

    [Fact]
    public async Task The_session_count_survives_round_robin_and_a_killed_node_and_the_dashboard_shows_the_kill()
    {
        _chromium = await HeadlessChromium.LaunchAsync();
        _launcher = new FarmLauncherProcess(_directory.Path, Nodes);
        IPage? session = null;
        IPage? dashboard = null;
        try
        {
            await _launcher.WaitUntilUpAsync(StartTimeout);
            Dictionary<string, (string Name, int ProcessId)> nodesById = await WaitUntilSettledAsync(_launcher);
            Uri lb = _launcher.LoadBalancer!;

            session = await _chromium.NewPageAsync(width: 900, height: 760);
            session.SetDefaultTimeout(PageTimeoutMs);
            HashSet<string> servedBy = [];
            string lastNode = string.Empty;
            for (int visit = 1; visit <= VisitsBeforeKill; visit++)
            {
                lastNode = await VisitAsync(session, lb, visit);
                servedBy.Add(lastNode);
            }

            Assert.True(servedBy.Count >= 2, $"the load balancer sent {VisitsBeforeKill} reloads to {servedBy.Count} node(s)");

            dashboard = await _chromium.NewPageAsync(width: 1440, height: 900);
            dashboard.SetDefaultTimeout(PageTimeoutMs);
            await dashboard.GotoAsync(new Uri(lb, "/smdss").ToString());
            await WaitForAsync(dashboard, HealthyFarm, Nodes, "3 nodes up, slice maps agree, every replica in sync, a line per node");
            await ScreenshotAsync(dashboard, "dashboard-before.png");

            // The victim served the last visit: the load balancer's rotation moves on from it, and
            // it is not always the first node (everyone's friend).
            string victim = lastNode;
            (string victimName, int victimPid) = nodesById[victim];
            output.WriteLine($"kill -9 {victimPid} ({victimName}, node {victim})");
            using (Process process = Process.GetProcessById(victimPid))
            {
                process.Kill(); // SIGKILL: no goodbye, no flush.
            }

            await Eventually.TrueAsync(() => !FarmLauncherProcess.IsRunning(victimPid), TimeSpan.FromSeconds(10), $"{victimName} (pid {victimPid}) is gone");

            for (int visit = VisitsBeforeKill + 1; visit <= VisitsBeforeKill + VisitsAfterKill; visit++)
            {
                string node = await VisitAsync(session, lb, visit);
                Assert.NotEqual(victim, node);
            }

            await ScreenshotAsync(session, "session.png");

            await WaitForAsync(dashboard, VictimDown, victim, $"{victimName} Down, and every slice led by a survivor");
            await ScreenshotAsync(dashboard, "dashboard-after.png");
        }
        catch
        {
            foreach ((IPage? page, string name) in new[] { (session, "failed-session.png"), (dashboard, "failed-dashboard.png") })
            {
                if (page is { IsClosed: false })
                {
                    await ScreenshotAsync(page, name);
                }
            }

            output.WriteLine($"--- launcher (pid {_launcher.ProcessId}) ---\n{_launcher.Output}");
            throw;
        }
    }

    /// <summary>Dashboard: every node up, the slice maps agree, every replica in sync, and the ops chart has a line per node.</summary>
    private const string HealthyFarm = """
        nodes => {
          const up = document.querySelector("#summary-nodes");
          const agree = document.querySelector("#summary-digest");
          const wedges = [...document.querySelectorAll("#pie path.wedge")];
          return up?.dataset.nodesUp === String(nodes)
            && agree?.dataset.digestsAgree === "true"
            && document.querySelectorAll("#node-table tbody tr[data-state='Up'][data-reachable='true']").length === nodes
            && wedges.length > 0 && wedges.every(w => w.dataset.primary !== "")
            && document.querySelectorAll("#pie path.replica[data-in-sync='false'], #pie path.lagging").length === 0
            && document.querySelectorAll("#ops-chart path.series:not(.dot)").length === nodes;
        }
        """;

    /// <summary>Dashboard: the victim's row says Down and no wedge's primary is the victim.</summary>
    private const string VictimDown = """
        victim => {
          const row = document.querySelector(`#node-table tbody tr[data-node-id="${victim}"]`);
          const wedges = [...document.querySelectorAll("#pie path.wedge")];
          return !document.body.classList.contains("stale")
            && row?.dataset.state === "Down"
            && wedges.length > 0 && wedges.every(w => w.dataset.primary !== "" && w.dataset.primary !== victim);
        }
        """;

    /// <summary>Loads the session page through the load balancer; checks the count; returns the node that served it.</summary>
    private static async Task<string> VisitAsync(IPage page, Uri lb, int expected)
    {
        IResponse? response = await page.GotoAsync(lb.ToString());
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        string visits = await page.Locator("#visits").InnerTextAsync();
        string node = await page.Locator("#node").InnerTextAsync();
        Assert.Equal(expected.ToString(CultureInfo.InvariantCulture), visits);
        Assert.Equal(node, await response.HeaderValueAsync("X-SmdSs-Node"));
        return node;
    }

    private static async Task WaitForAsync(IPage page, string condition, object argument, string what)
    {
        try
        {
            await page.WaitForFunctionAsync(condition, argument, new PageWaitForFunctionOptions { Timeout = PageTimeoutMs, PollingInterval = 100 });
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"The dashboard did not show {what} within {PageTimeoutMs / 1000} s.", e);
        }
    }

    private async Task ScreenshotAsync(IPage page, string name)
    {
        string path = Path.Combine(_artifacts, name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }

    /// <summary>Waits until the nodes agree on their maps; returns each node's name and pid by its node id.</summary>
    private static async Task<Dictionary<string, (string Name, int ProcessId)>> WaitUntilSettledAsync(FarmLauncherProcess launcher)
    {
        Assert.Equal(Nodes, launcher.Nodes.Count);
        List<HttpClient> clients = [.. launcher.Nodes.Select(n => new HttpClient { BaseAddress = n.Url, Timeout = TimeSpan.FromSeconds(10) })];
        try
        {
            await Eventually.TrueAsync(() => FarmProcess.SettledAsync(clients), SettleTimeout, "the farm's nodes settled");
            var byId = new Dictionary<string, (string, int)>();
            for (int i = 0; i < clients.Count; i++)
            {
                SmdSsStatus status = (await clients[i].GetFromJsonAsync<SmdSsStatus>("/smdss/status"))!;
                byId[status.NodeId] = (launcher.Nodes[i].Name, launcher.Nodes[i].ProcessId);
            }

            return byId;
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }
}
