using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SmdSs.Tests.Support;

/// <summary>
/// <c>dotnet WebFarm.dll farm</c> as a separate process: the launcher that starts a farm's nodes
/// as its children and a load balancer in front. Reads the URLs and child process ids it prints.
/// </summary>
public sealed partial class FarmLauncherProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly Process _process;

    /// <param name="dataDirectory">The launcher's --data.</param>
    /// <param name="nodes">The launcher's --nodes.</param>
    /// <param name="settings">More arguments, for example <c>--SmdSs:FailureDetectionTimeout=00:00:02</c>.</param>
    public FarmLauncherProcess(string dataDirectory, int nodes, IEnumerable<string>? settings = null)
    {
        Port = FreePorts.NextRange(nodes + 1);
        ClusterPort = FreePorts.NextRange(nodes + 1);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] arguments =
        [
            FarmProcess.WebFarmDll, "farm",
            "--nodes", nodes.ToString(CultureInfo.InvariantCulture),
            "--port", Port.ToString(CultureInfo.InvariantCulture),
            "--cluster-port", ClusterPort.ToString(CultureInfo.InvariantCulture),
            "--data", dataDirectory,
            .. settings ?? [],
        ];
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Port { get; }

    public int ClusterPort { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The load balancer's URL, as printed.</summary>
    public Uri? LoadBalancer { get; private set; }

    /// <summary>Each node's name, HTTP URL and process id, as printed.</summary>
    public IReadOnlyList<(string Name, Uri Url, int ProcessId)> Nodes { get; private set; } = [];

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

    /// <summary>Waits until the launcher says the farm is up, and reads what it printed.</summary>
    public async Task WaitUntilUpAsync(TimeSpan timeout)
    {
        await Eventually.TrueAsync(() => _process.HasExited
            ? throw new InvalidOperationException($"The launcher exited with {_process.ExitCode}:\n{Output}")
            : Output.Contains("Ctrl+C to stop", StringComparison.Ordinal), timeout, "the launcher printed its URLs");
        string output = Output;
        LoadBalancer = new Uri(LoadBalancerLine().Match(output).Groups[1].Value);
        Nodes = [.. NodeLine().Matches(output).Select(m => (m.Groups[1].Value, new Uri(m.Groups[2].Value), int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)))];
    }

    /// <summary>Sends a signal (<c>INT</c>, <c>TERM</c>, <c>KILL</c>) to the launcher only.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, ProcessId.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    /// <summary>
    /// Whether a process runs. A child orphaned by a killed launcher may stay a zombie until
    /// whoever adopted it reaps it; a zombie runs no code, so it counts as gone.
    /// </summary>
    public static bool IsRunning(int processId)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{processId}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // A failed test may leave the farm running: no process outlives it.
        foreach ((_, _, int id) in Nodes)
        {
            if (IsRunning(id))
            {
                try
                {
                    using Process child = Process.GetProcessById(id);
                    child.Kill();
                }
                catch (ArgumentException)
                {
                    // Gone meanwhile.
                }
            }
        }

        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
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

    [GeneratedRegex(@"Load balancer:\s+(\S+)")]
    private static partial Regex LoadBalancerLine();

    [GeneratedRegex(@"^\s+(n\d+)\s+(http://\S+)\s+cluster \S+\s+pid (\d+)", RegexOptions.Multiline)]
    private static partial Regex NodeLine();
}
