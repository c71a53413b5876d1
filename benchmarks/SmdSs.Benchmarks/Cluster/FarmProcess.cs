using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// One samples/WebFarm instance as a separate process on loopback, configured on its command
/// line. Its output is kept (the last lines) to explain a failure. Its pid is written to a pid
/// directory so run.sh can kill it should this process die without cleaning up.
/// </summary>
internal sealed class FarmProcess : IDisposable
{
    private const int KeptOutputLines = 400;
    private readonly Queue<string> _output = new();
    private readonly string _pidDirectory;
    private readonly List<string> _arguments;
    private Process? _process;
    private string? _pidFile;

    private readonly string? _clusterSecret;

    public FarmProcess(string name, string webFarmDll, string dataDirectory, string pidDirectory, string? friend, string? clusterSecret)
    {
        _clusterSecret = clusterSecret;
        Name = name;
        WebFarmDll = webFarmDll;
        _pidDirectory = pidDirectory;
        HttpPort = FreePort.Next();
        ClusterEndpoint = "127.0.0.1:" + FreePort.Next().ToString(CultureInfo.InvariantCulture);
        _arguments =
        [
            webFarmDll,
            "--urls", $"http://127.0.0.1:{HttpPort}",
            $"--SmdSs:Listen={ClusterEndpoint}",
            $"--SmdSs:DataDirectory={dataDirectory}",
        ];
        if (friend is not null)
        {
            _arguments.Add($"--SmdSs:Friends:0={friend}");
        }

        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TimeSpan.FromSeconds(5) };
    }

    public string Name { get; }

    public string WebFarmDll { get; }

    public int HttpPort { get; }

    public string ClusterEndpoint { get; }

    public HttpClient Http { get; }

    public string CommandLine => "dotnet " + string.Join(' ', _arguments);

    public bool HasExited => _process is { HasExited: true };

    public int Pid => _process?.Id ?? 0;

    public void Start()
    {
        // The WebFarm directory is the content root, so its appsettings.json applies (logging
        // levels, MaxMemoryBytes); the command line overrides Listen, DataDirectory and Friends.
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(WebFarmDll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in _arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // In the environment, not on the command line (which the pid file and the progress show);
        // a farm in clear must not inherit a secret from this process's environment.
        if (_clusterSecret is null)
        {
            start.Environment.Remove("SmdSs__ClusterSecret");
        }
        else
        {
            start.Environment["SmdSs__ClusterSecret"] = _clusterSecret;
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start " + CommandLine);
        Directory.CreateDirectory(_pidDirectory);
        _pidFile = Path.Combine(_pidDirectory, _process.Id.ToString(CultureInfo.InvariantCulture));
        File.WriteAllText(_pidFile, CommandLine);
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Waits until /health answers 200.</summary>
    /// <exception cref="InvalidOperationException">The process exited first.</exception>
    public Task WaitHealthyAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        Poll.UntilAsync(async () =>
        {
            ThrowIfExited();
            try
            {
                using HttpResponseMessage response = await Http.GetAsync(new Uri("/health", UriKind.Relative), cancellationToken).ConfigureAwait(false);
                return response.IsSuccessStatusCode;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return false;
            }
        }, timeout, $"{Name} (port {HttpPort}) healthy", cancellationToken);

    /// <summary>GET /smdss/status, or null when it does not answer.</summary>
    public async Task<SmdSsStatus?> TryGetStatusAsync(CancellationToken cancellationToken)
    {
        ThrowIfExited();
        try
        {
            return await Http.GetFromJsonAsync<SmdSsStatus>(new Uri("/smdss/status", UriKind.Relative), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>The last lines the process wrote (stdout and stderr).</summary>
    public string OutputTail(int lines)
    {
        lock (_output)
        {
            return string.Join(Environment.NewLine, _output.Skip(Math.Max(0, _output.Count - lines)));
        }
    }

    /// <summary>kill -9, then removes the pid file.</summary>
    public void Dispose()
    {
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }

            process.Dispose();
        }

        if (_pidFile is not null)
        {
            File.Delete(_pidFile);
        }

        Http.Dispose();
    }

    private void ThrowIfExited()
    {
        if (_process is { HasExited: true } process)
        {
            throw new InvalidOperationException($"{Name} exited with code {process.ExitCode}. Last output:{Environment.NewLine}{OutputTail(60)}");
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Enqueue(line);
            if (_output.Count > KeptOutputLines)
            {
                _output.Dequeue();
            }
        }
    }
}
