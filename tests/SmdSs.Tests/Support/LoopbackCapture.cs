using System.Diagnostics;
using System.Text;

namespace SmdSs.Tests.Support;

/// <summary>
/// tcpdump (Debian's, installed by <c>.ci/run</c>; needs root) capturing loopback traffic to and
/// from some ports into a pcap file, to look at what really crossed the wire.
/// </summary>
internal sealed class LoopbackCapture : IAsyncDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(10);
    private readonly Process _process;
    private readonly StringBuilder _errors = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private LoopbackCapture(Process process, string file)
    {
        _process = process;
        File = file;
    }

    /// <summary>The pcap file.</summary>
    public string File { get; }

    /// <summary>Starts capturing TCP on <c>lo</c> to or from any of <paramref name="ports"/>, and returns once tcpdump listens.</summary>
    public static async Task<LoopbackCapture> StartAsync(string file, IEnumerable<int> ports)
    {
        string filter = "tcp and (" + string.Join(" or ", ports.Select(p => $"port {p}")) + ")";
        var start = new ProcessStartInfo(FindTcpdump())
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // --immediate-mode: take each packet from the kernel as it comes; -U: write it at once; -s 0: whole packets.
        foreach (string argument in new[] { "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-n", "-w", file, filter })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("tcpdump did not start");
        var capture = new LoopbackCapture(process, file);
        process.ErrorDataReceived += (_, e) => capture.OnError(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        Task started = await Task.WhenAny(capture._listening.Task, process.WaitForExitAsync(), Task.Delay(StartDeadline));
        if (started != capture._listening.Task)
        {
            await capture.DisposeAsync();
            throw new InvalidOperationException($"tcpdump did not start listening within {StartDeadline}: {capture.Errors}");
        }

        return capture;
    }

    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    /// <summary>
    /// Waits (5 s at most) until the file holds <paramref name="expectedBytes"/>, then stops
    /// tcpdump (SIGINT, so it writes what it has and closes the file) and returns every byte it wrote.
    /// </summary>
    public async Task<byte[]> StopAsync(long expectedBytes)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline && new FileInfo(File).Length < expectedBytes)
        {
            await Task.Delay(50);
        }

        if (!_process.HasExited)
        {
            using Process interrupt = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            await interrupt.WaitForExitAsync();
            using var exitDeadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(exitDeadline.Token);
        }

        return await System.IO.File.ReadAllBytesAsync(File);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static string FindTcpdump()
    {
        foreach (string candidate in new[] { "/usr/bin/tcpdump", "/usr/sbin/tcpdump", "/sbin/tcpdump" })
        {
            if (System.IO.File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("tcpdump is not installed: .ci/run installs it (apt-get install tcpdump).");
    }

    private void OnError(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_errors)
        {
            _errors.AppendLine(line);
        }

        if (line.Contains("listening on", StringComparison.Ordinal))
        {
            _listening.TrySetResult();
        }
    }
}
