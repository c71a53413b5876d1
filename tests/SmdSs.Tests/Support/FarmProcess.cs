using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using SmdSs.Model;

namespace SmdSs.Tests.Support;

/// <summary>One samples/WebFarm instance as a separate process, configured on its command line.</summary>
public sealed class FarmProcess : IAsyncDisposable
{
    /// <summary>The cluster secret of every farm this test run starts (a random key, passed in the environment).</summary>
    public static readonly string TestClusterSecret = SmdSs.Transport.ClusterKey.NewRandomSecret();

    private readonly StringBuilder _output = new();
    private Process? _process;

    /// <param name="dataDirectory">The node's data directory.</param>
    /// <param name="friends">Cluster endpoints of the node's friends.</param>
    /// <param name="settings">More command-line settings, for example <c>--SmdSs:ReplacementGracePeriod=00:00:02</c>.</param>
    /// <param name="host">The address the process listens on (HTTP and cluster).</param>
    /// <param name="networkNamespace">A Linux network namespace to run it in (see <see cref="NetworkNamespaces"/>), or null.</param>
    public FarmProcess(string dataDirectory, IEnumerable<string> friends, IEnumerable<string>? settings = null, string host = "127.0.0.1", string? networkNamespace = null)
    {
        DataDirectory = dataDirectory;
        Friends = [.. friends];
        Settings = [.. settings ?? []];
        Host = host;
        _networkNamespace = networkNamespace;
        HttpPort = FreePorts.Next();
        ClusterPort = FreePorts.Next();
        Http = new HttpClient { BaseAddress = new Uri($"http://{host}:{HttpPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    private readonly string? _networkNamespace;

    public string Host { get; }

    public string DataDirectory { get; }

    public IReadOnlyList<string> Friends { get; }

    /// <summary>Command-line settings; a change takes effect at the next start.</summary>
    public IReadOnlyList<string> Settings { get; set; }

    public int HttpPort { get; }

    public int ClusterPort { get; }

    public string ClusterEndpoint => $"{Host}:{ClusterPort}";

    public HttpClient Http { get; }

    public bool IsRunning => _process is { HasExited: false };

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the process and waits until its health endpoint answers.</summary>
    public async Task StartAsync(TimeSpan? timeout = null)
    {
        // ip netns exec execs dotnet in place: the process is the node itself (kill -9 reaches it).
        var start = new ProcessStartInfo(_networkNamespace is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (_networkNamespace is not null)
        {
            foreach (string part in new[] { "netns", "exec", _networkNamespace, "dotnet" })
            {
                start.ArgumentList.Add(part);
            }
        }

        start.ArgumentList.Add(WebFarmDll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://{Host}:{HttpPort}");
        start.ArgumentList.Add($"--SmdSs:Listen={ClusterEndpoint}");
        start.ArgumentList.Add($"--SmdSs:DataDirectory={DataDirectory}");
        for (int i = 0; i < Friends.Count; i++)
        {
            start.ArgumentList.Add($"--SmdSs:Friends:{i}={Friends[i]}");
        }

        foreach (string setting in Settings)
        {
            start.ArgumentList.Add(setting);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Every test farm is sealed, as a production farm is; a --SmdSs:ClusterSecret setting overrides it.
        start.Environment["SmdSs__ClusterSecret"] = TestClusterSecret;
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        await Eventually.TrueAsync(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"WebFarm exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                return (await Http.GetAsync("/health")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, timeout ?? TimeSpan.FromSeconds(60), $"WebFarm on port {HttpPort} healthy");
    }

    /// <summary>Every process's console output, for a failing test's log.</summary>
    public static void WriteOutputs(Xunit.Abstractions.ITestOutputHelper output, IEnumerable<FarmProcess> farm)
    {
        foreach (FarmProcess process in farm)
        {
            output.WriteLine($"--- WebFarm at {process.Host}:{process.HttpPort} ---\n{process.Output}");
        }
    }

    public Task<SmdSsStatus?> StatusAsync() => Http.GetFromJsonAsync<SmdSsStatus>("/smdss/status");

    /// <summary>
    /// Whether the cluster of <paramref name="serving"/> has settled: they agree on both maps,
    /// the node map has exactly them Up, and every slice has min(3, their count) replicas (the
    /// sample's ReplicationFactor is 3), all of them serving and in sync. A killed process is
    /// not among <paramref name="serving"/>: this holds once its slices have new replicas.
    /// </summary>
    public static Task<bool> SettledAsync(IReadOnlyCollection<FarmProcess> serving) => SettledAsync([.. serving.Select(p => p.Http)]);

    /// <summary>As <see cref="SettledAsync(IReadOnlyCollection{FarmProcess})"/>, for nodes known by their HTTP clients.</summary>
    public static async Task<bool> SettledAsync(IReadOnlyCollection<HttpClient> serving) => await SettledMapAsync(serving) is not null;

    /// <summary>
    /// Waits until the farm has settled and its slice map has stayed the same for
    /// <paramref name="quiet"/>: settled is a moment between placement moves too (a slice back at
    /// three replicas before the planner adds the next one), and a node stopped mid-move comes
    /// back to a whole copy of the slice it was being moved onto.
    /// </summary>
    public static async Task WaitQuietAsync(IReadOnlyCollection<FarmProcess> serving, TimeSpan quiet, TimeSpan timeout, string what)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        string? digest = null;
        TimeSpan since = TimeSpan.Zero;
        while (true)
        {
            string? settled = await SettledMapAsync([.. serving.Select(p => p.Http)]);
            if (settled is null || settled != digest)
            {
                (digest, since) = (settled, waited.Elapsed);
            }
            else if (waited.Elapsed - since >= quiet)
            {
                return;
            }

            if (waited.Elapsed > timeout)
            {
                throw new TimeoutException($"Not true within {timeout}: {what} (settled with one slice map for {quiet})");
            }

            await Task.Delay(100);
        }
    }

    // The slice-map digest when the farm is settled, else null.
    private static async Task<string?> SettledMapAsync(IReadOnlyCollection<HttpClient> serving)
    {
        SmdSsStatus?[] statuses;
        try
        {
            statuses = await Task.WhenAll(serving.Select(http => http.GetFromJsonAsync<SmdSsStatus>("/smdss/status")));
        }
        catch (HttpRequestException)
        {
            return null;
        }

        if (statuses.Any(s => s is null))
        {
            return null;
        }

        HashSet<string> ids = [.. statuses.Select(s => s!.NodeId)];
        int replicas = Math.Min(3, serving.Count);
        SmdSsStatus any = statuses[0]!;
        bool settled = statuses.Select(s => s!.SliceMapDigest).Distinct().Count() == 1
            && statuses.Select(s => s!.NodeMapDigest).Distinct().Count() == 1
            && ids.SetEquals(any.Nodes.Where(n => n.State == "Up").Select(n => n.Id))
            && any.Slices.All(s => s.Replicas.Count == replicas && s.InSync.Count == replicas && ids.IsSupersetOf(s.Replicas) && s.InSync.All(s.Replicas.Contains));
        return settled ? any.SliceMapDigest : null;
    }

    /// <summary>kill -9: no goodbye, no flush.</summary>
    public void Kill()
    {
        _process?.Kill(entireProcessTree: true);
        _process?.WaitForExit();
    }

    /// <summary>SIGTERM, as a process manager stops a web app: the host stops gracefully.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (IsRunning)
        {
            Kill();
        }

        _process?.Dispose();
        Http.Dispose();
        await Task.CompletedTask;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>samples/WebFarm's assembly, built beside the tests.</summary>
    public static string WebFarmDll
    {
        get
        {
            // tests/SmdSs.Tests/bin/<Configuration>/net10.0 → samples/WebFarm/bin/<Configuration>/net10.0/WebFarm.dll
            var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string framework = testBin.Name;
            string configuration = testBin.Parent!.Name;
            DirectoryInfo root = testBin;
            while (root.Parent is not null && !File.Exists(Path.Combine(root.FullName, "SmdSs.sln")))
            {
                root = root.Parent;
            }

            string dll = Path.Combine(root.FullName, "samples", "WebFarm", "bin", configuration, framework, "WebFarm.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("Build samples/WebFarm first.", dll);
        }
    }
}
