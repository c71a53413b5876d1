using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;

namespace SmdSs.Benchmarks.Increments;

/// <summary>
/// One increment worker as a separate process (this executable with --increment-worker), driven
/// over its stdin/stdout (<see cref="WorkerProtocol"/>). Its other output is kept (the last
/// lines) to explain a failure. Its pid is written to a pid directory so run.sh can kill it
/// should the harness die without cleaning up.
/// </summary>
internal sealed class WorkerProcess : IDisposable
{
    private const int KeptOutputLines = 400;
    private readonly Queue<string> _output = new();
    private readonly Channel<string> _replies = Channel.CreateUnbounded<string>();
    private readonly List<string> _arguments;
    private readonly string _pidDirectory;
    private Process? _process;
    private int _problemCount;
    private string? _firstProblem;
    private bool _completeFirstProblem;
    private string? _pidFile;

    public WorkerProcess(string name, IEnumerable<string> workerArguments, string pidDirectory)
    {
        Name = name;
        _pidDirectory = pidDirectory;
        _arguments = [Path.Combine(AppContext.BaseDirectory, "SmdSs.Benchmarks.dll"), IncrementWorker.Flag, .. workerArguments];
    }

    public string Name { get; }

    public string CommandLine => "dotnet " + string.Join(' ', _arguments);

    public int Pid => _process?.Id ?? 0;

    public bool HasExited => _process is { HasExited: true };

    public void Start()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in _arguments)
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start " + CommandLine);
        Directory.CreateDirectory(_pidDirectory);
        _pidFile = Path.Combine(_pidDirectory, _process.Id.ToString(CultureInfo.InvariantCulture));
        File.WriteAllText(_pidFile, CommandLine);
        _process.OutputDataReceived += (_, e) => OnOutput(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Sends <paramref name="command"/> and returns the reply, which must start with <paramref name="expected"/>.</summary>
    /// <exception cref="InvalidOperationException">The worker answered ERROR, something else, or exited.</exception>
    /// <exception cref="TimeoutException">No reply within <paramref name="timeout"/>.</exception>
    public async Task<string> RequestAsync(string command, string expected, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Process process = _process ?? throw new InvalidOperationException(Name + " was not started.");
        await process.StandardInput.WriteLineAsync(command.AsMemory(), cancellationToken).ConfigureAwait(false);
        await process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
        return await ReplyAsync(expected, timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The next reply, which must start with <paramref name="expected"/>; the text after it.</summary>
    public async Task<string> ReplyAsync(string expected, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        string reply;
        try
        {
            reply = await _replies.Reader.ReadAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{Name} did not answer {expected} within {timeout.TotalSeconds:0} s. Last output:{Environment.NewLine}{OutputTail(60)}");
        }
        catch (ChannelClosedException)
        {
            process().WaitForExit(5_000);
            throw new InvalidOperationException($"{Name} exited (code {(HasExited ? process().ExitCode.ToString(CultureInfo.InvariantCulture) : "?")}) instead of answering {expected}. Last output:{Environment.NewLine}{OutputTail(60)}");
        }

        if (!IsReply(reply, expected))
        {
            throw new InvalidOperationException($"{Name} answered '{Cut(reply)}' instead of {expected}. Last output:{Environment.NewLine}{OutputTail(60)}");
        }

        return reply[expected.Length..].TrimStart(' ', '\t');

        Process process() => _process!;
    }

    /// <summary>QUIT, then waits for the process to exit; false when it did not in time (Dispose kills it).</summary>
    public async Task<bool> StopAsync(TimeSpan timeout)
    {
        if (_process is null || HasExited)
        {
            return HasExited;
        }

        try
        {
            await RequestAsync(WorkerProtocol.Quit, WorkerProtocol.Bye, timeout, CancellationToken.None).ConfigureAwait(false);
            using var wait = new CancellationTokenSource(timeout);
            await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or OperationCanceledException or IOException)
        {
            Progress.Line($"  {Name} did not stop cleanly: {Cut(ex.Message)}");
            return false;
        }
    }

    /// <summary>The last lines the process wrote besides its replies (its log, on stderr).</summary>
    public string OutputTail(int lines)
    {
        lock (_output)
        {
            return string.Join(Environment.NewLine, _output.Skip(Math.Max(0, _output.Count - lines)));
        }
    }

    /// <summary>How many warn:, fail: or crit: lines the console logger wrote, and the first one with its message line.</summary>
    public (int Count, string? First) LoggedProblems()
    {
        lock (_output)
        {
            return (_problemCount, _firstProblem);
        }
    }

    /// <summary>kill -9 if still running, then removes the pid file.</summary>
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
    }

    private static bool IsReply(string line, string token) =>
        line.StartsWith(token, StringComparison.Ordinal) && (line.Length == token.Length || line[token.Length] is ' ' or '\t');

    private static string Cut(string text) => text.Length <= 2_000 ? text : text[..2_000] + " ...";

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            _replies.Writer.TryComplete();
        }
        else if (WorkerProtocol.Replies.Any(token => IsReply(line, token)))
        {
            _replies.Writer.TryWrite(line);
        }
        else
        {
            Keep(line);
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
            if (_completeFirstProblem)
            {
                // The console logger writes the category on one line and the message on the next.
                (_firstProblem, _completeFirstProblem) = (_firstProblem + " " + line.Trim(), false);
            }

            if (line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal))
            {
                _problemCount++;
                if (_firstProblem is null)
                {
                    (_firstProblem, _completeFirstProblem) = (line, true);
                }
            }

            _output.Enqueue(line);
            if (_output.Count > KeptOutputLines)
            {
                _output.Dequeue();
            }
        }
    }
}
