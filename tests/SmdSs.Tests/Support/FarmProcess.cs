using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;

namespace SmdSs.Tests.Support;

/// <summary>One samples/WebFarm instance as a separate process, configured on its command line.</summary>
public sealed class FarmProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    public FarmProcess(string dataDirectory, IEnumerable<string> friends)
    {
        DataDirectory = dataDirectory;
        Friends = [.. friends];
        HttpPort = FreePorts.Next();
        ClusterPort = FreePorts.Next();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string DataDirectory { get; }

    public IReadOnlyList<string> Friends { get; }

    public int HttpPort { get; }

    public int ClusterPort { get; }

    public string ClusterEndpoint => $"127.0.0.1:{ClusterPort}";

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
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(WebFarmDll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{HttpPort}");
        start.ArgumentList.Add($"--SmdSs:Listen={ClusterEndpoint}");
        start.ArgumentList.Add($"--SmdSs:DataDirectory={DataDirectory}");
        for (int i = 0; i < Friends.Count; i++)
        {
            start.ArgumentList.Add($"--SmdSs:Friends:{i}={Friends[i]}");
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
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

    public Task<SmdSsStatus?> StatusAsync() => Http.GetFromJsonAsync<SmdSsStatus>("/smdss/status");

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

    private static string WebFarmDll
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
