using System.Net;
using System.Text.RegularExpressions;
using SmdSs.Tests.Support;
using Xunit.Abstractions;

namespace SmdSs.Tests.Processes;

/// <summary>
/// <c>WebFarm farm</c>, the one command that starts a farm: its nodes are separate processes
/// behind its load balancer, a session spans them, and stopping the launcher stops them all —
/// gracefully on SIGTERM (Ctrl+C takes the same path), and by themselves when it is killed.
/// </summary>
[Collection(ClusterTestGroup.Name)]
public sealed partial class FarmLauncherTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Nodes = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new();
    private FarmLauncherProcess? _launcher;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_launcher is not null)
        {
            await _launcher.DisposeAsync();
        }

        _directory.Dispose();
    }

    [Fact]
    public async Task A_session_through_the_load_balancer_spans_nodes_and_SIGTERM_stops_every_process_gracefully()
    {
        await RunAsync(async launcher =>
        {
            await SessionSpansNodesAsync(launcher);
            await VisitorsCannotMisuseTheFarmAsync(launcher);

            await launcher.SignalAsync("TERM");
            await launcher.WaitForExitAsync(StopTimeout);
            Assert.Equal(0, launcher.ExitCode);
            foreach ((string name, _, int id) in launcher.Nodes)
            {
                Assert.False(FarmLauncherProcess.IsRunning(id), $"{name} (pid {id}) still runs after the launcher exited");

                // Stopped by its SIGTERM, not killed at the deadline.
                Assert.Contains($"[{name}] stopped (exit code 0).", launcher.Output, StringComparison.Ordinal);
            }
        });
    }

    [Fact]
    public async Task Nodes_stop_by_themselves_when_the_launcher_is_killed()
    {
        await RunAsync(async launcher =>
        {
            await launcher.SignalAsync("KILL");
            await launcher.WaitForExitAsync(StopTimeout);
            foreach ((string name, _, int id) in launcher.Nodes)
            {
                await Eventually.TrueAsync(() => !FarmLauncherProcess.IsRunning(id), StopTimeout, $"{name} (pid {id}) stopped after its launcher was killed");
            }
        });
    }

    /// <summary>
    /// Through the load balancer, as any visitor: an anonymous decommission is not forwarded
    /// (and not mapped by the nodes), the Data Protection key ring cannot be read through /kv, and
    /// the nodes run with the cluster secret the launcher made for them (their processes show no
    /// secret on their command line).
    /// </summary>
    private static async Task VisitorsCannotMisuseTheFarmAsync(FarmLauncherProcess launcher)
    {
        using var visitor = new HttpClient { BaseAddress = launcher.LoadBalancer, Timeout = TimeSpan.FromSeconds(30) };
        using (HttpResponseMessage decommission = await visitor.PostAsync("/smdss/decommission", new StringContent("{}", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.NotFound, decommission.StatusCode);
        }

        using (HttpResponseMessage ring = await visitor.GetAsync("/kv/" + Uri.EscapeDataString("smdss:data-protection:keys")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, ring.StatusCode);
            Assert.DoesNotContain("<key", await ring.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        foreach ((string name, _, int id) in launcher.Nodes)
        {
            Assert.True(FarmLauncherProcess.IsRunning(id), $"{name} stopped");
            string commandLine = (await File.ReadAllTextAsync($"/proc/{id}/cmdline")).Replace('\0', ' ');
            Assert.DoesNotContain("ClusterSecret", commandLine, StringComparison.Ordinal);
            string environment = await File.ReadAllTextAsync($"/proc/{id}/environ");
            Assert.Contains("SmdSs__ClusterSecret=", environment, StringComparison.Ordinal);
        }
    }

    private async Task RunAsync(Func<FarmLauncherProcess, Task> test)
    {
        _launcher = new FarmLauncherProcess(_directory.Path, Nodes);
        try
        {
            await _launcher.WaitUntilUpAsync(StartTimeout);
            Assert.Equal(Nodes, _launcher.Nodes.Count);
            Assert.All(_launcher.Nodes, n => Assert.True(FarmLauncherProcess.IsRunning(n.ProcessId), $"{n.Name} runs"));
            await test(_launcher);
        }
        catch
        {
            output.WriteLine($"--- launcher (pid {_launcher.ProcessId}) ---\n{_launcher.Output}");
            throw;
        }
    }

    private static async Task SessionSpansNodesAsync(FarmLauncherProcess launcher)
    {
        List<HttpClient> nodes = [.. launcher.Nodes.Select(n => new HttpClient { BaseAddress = n.Url })];
        try
        {
            await Eventually.TrueAsync(() => FarmProcess.SettledAsync(nodes), TimeSpan.FromSeconds(90), "the farm's nodes settled");
        }
        finally
        {
            nodes.ForEach(n => n.Dispose());
        }

        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var browser = new HttpClient(handler) { BaseAddress = launcher.LoadBalancer, Timeout = TimeSpan.FromSeconds(30) };
        HashSet<string> servedBy = [];
        string page = string.Empty;
        for (int visit = 1; visit <= 3 * Nodes; visit++)
        {
            using HttpResponseMessage response = await browser.GetAsync("/");
            page = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            string node = Assert.Single(response.Headers.GetValues("X-SmdSs-Node"));
            servedBy.Add(node);
            Assert.Equal(visit.ToString(System.Globalization.CultureInfo.InvariantCulture), Visits().Match(page).Groups[1].Value);
            Assert.Contains($"<code id=\"node\">{node}</code>", page, StringComparison.Ordinal);
        }

        Assert.True(servedBy.Count >= 2, $"round-robin reached {servedBy.Count} node(s)");

        // The page lists every node that served this session.
        Assert.All(servedBy, node => Assert.Contains($"<td><code>{node}</code></td>", page, StringComparison.Ordinal));
    }

    [GeneratedRegex("id=\"visits\">(\\d+)<")]
    private static partial Regex Visits();
}
