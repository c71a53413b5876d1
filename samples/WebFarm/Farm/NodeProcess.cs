using System.Diagnostics;
using System.Globalization;

namespace WebFarm.Farm;

/// <summary>
/// One farm member as a child process: this same WebFarm assembly, run without <c>farm</c>, on
/// its own ports and data directory. Its whole output goes to its log file; warnings and errors
/// also to the console, prefixed with its name. It is told the launcher's process id, and stops
/// by itself when the launcher is gone.
/// </summary>
internal sealed class NodeProcess(
    string name, Uri httpUrl, string clusterEndpoint, string dataDirectory, string logFile, IReadOnlyList<string> arguments, string clusterSecret) : IDisposable
{
    private readonly Lock _logGate = new();
    private Process? _process;
    private StreamWriter? _log;
    private volatile bool _stopping;

    public string Name { get; } = name;

    public Uri HttpUrl { get; } = httpUrl;

    public string ClusterEndpoint { get; } = clusterEndpoint;

    public string DataDirectory { get; } = dataDirectory;

    public string LogFile { get; } = logFile;

    public int ProcessId => _process?.Id ?? 0;

    public bool HasExited => _process is null || _process.HasExited;

    public int ExitCode => _process?.ExitCode ?? 0;

    /// <summary>Node <paramref name="index"/> of the farm; node 1 is every other node's friend.</summary>
    public static NodeProcess Create(FarmOptions options, int index)
    {
        string host = "127.0.0.1";
        var httpUrl = new Uri($"http://{host}:{options.NodeHttpPort(index)}");
        string cluster = $"{host}:{options.NodeClusterPort(index)}";
        List<string> arguments =
        [
            "--urls", httpUrl.GetLeftPart(UriPartial.Authority),
            $"--SmdSs:Listen={cluster}",
            $"--SmdSs:DataDirectory={options.NodeDataDirectory(index)}",

            // One line per log entry, without a log line per request (the health probes alone
            // make one a second).
            "--Logging:Console:FormatterName=simple",
            "--Logging:Console:FormatterOptions:SingleLine=true",
            "--Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss ",
            "--Logging:LogLevel:Microsoft.AspNetCore=Warning",
        ];
        if (index > 1)
        {
            arguments.Add($"--SmdSs:Friends:0={host}:{options.NodeClusterPort(1)}");
        }

        arguments.AddRange(options.NodeSettings);
        return new NodeProcess(
            FarmOptions.NodeName(index), httpUrl, cluster, options.NodeDataDirectory(index), options.NodeLogFile(index), arguments, options.ClusterSecret);
    }

    public void Start()
    {
        // Environment.ProcessPath is the apphost (dotnet run, a published app) or the dotnet
        // host (dotnet WebFarm.dll), which then needs the assembly's path first.
        string host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (string.Equals(Path.GetFileNameWithoutExtension(host), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(NodeProcess).Assembly.Location);
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add($"--{ParentProcessWatch.ConfigurationKey}={Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");
        start.Environment["SmdSs__ClusterSecret"] = clusterSecret;
        Directory.CreateDirectory(Path.GetDirectoryName(LogFile)!);
        _log = new StreamWriter(LogFile, append: false) { AutoFlush = true };
        _process = Process.Start(start) ?? throw new InvalidOperationException($"{Name} did not start.");
        _process.OutputDataReceived += (_, e) => Forward(e.Data, toConsole: e.Data is not null && !IsRoutine(e.Data));
        _process.ErrorDataReceived += (_, e) => Forward(e.Data, toConsole: true);
        _process.EnableRaisingEvents = true;
        _process.Exited += (_, _) => OnExited();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>
    /// Stops the node as a process manager does: SIGTERM (the host stops gracefully and the node
    /// says goodbye), then kill once <paramref name="deadline"/> has passed.
    /// </summary>
    public async Task StopAsync(TimeSpan deadline)
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        _stopping = true;
        Signals.Terminate(process);
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            FarmConsole.WriteLine(Name, $"stopped (exit code {process.ExitCode}).");
        }
        catch (OperationCanceledException)
        {
            FarmConsole.WriteLine(Name, $"did not stop within {deadline.TotalSeconds:0} s; killing it.");
            Kill();
        }
    }

    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
        }
    }

    public void Dispose()
    {
        _process?.Dispose();
        lock (_logGate)
        {
            _log?.Dispose();
            _log = null;
        }
    }

    /// <summary>An information, debug or trace entry (<c>HH:mm:ss info: ...</c>): for the log file only.</summary>
    internal static bool IsRoutine(string line)
    {
        int level = line.IndexOf(": ", StringComparison.Ordinal);
        return level is >= 4 and <= 20 && line[(level - 4)..level] is "info" or "dbug" or "trce";
    }

    private void OnExited()
    {
        // A stop reports itself; this is a node that died (or was stopped by someone else).
        if (!_stopping)
        {
            FarmConsole.WriteLine(Name, $"exited with code {_process!.ExitCode}.");
        }
    }

    private void Forward(string? line, bool toConsole)
    {
        if (line is null)
        {
            return;
        }

        lock (_logGate)
        {
            _log?.WriteLine(line);
        }

        if (toConsole)
        {
            FarmConsole.WriteLine(Name, line);
        }
    }
}
