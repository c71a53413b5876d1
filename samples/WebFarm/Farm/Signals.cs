using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace WebFarm.Farm;

/// <summary>
/// Ctrl+C and SIGTERM for the launcher, and SIGTERM for its children. The first signal asks for
/// a graceful stop; a second one while stopping asks to kill what is still running.
/// </summary>
internal sealed class Signals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _kill = new();
    private readonly PosixSignalRegistration[] _registrations;

    public Signals()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    /// <summary>Cancelled by the first Ctrl+C or SIGTERM.</summary>
    public CancellationToken Stop => _stop.Token;

    /// <summary>Cancelled by the second.</summary>
    public CancellationToken Kill => _kill.Token;

    /// <summary>Asks <paramref name="process"/> to stop gracefully (SIGTERM; on Windows, which has none, it is killed).</summary>
    public static void Terminate(Process process)
    {
        if (OperatingSystem.IsWindows())
        {
            process.Kill(entireProcessTree: true);
            return;
        }

        using Process? kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill?.WaitForExit();
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }

        _stop.Dispose();
        _kill.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        // The launcher stops by itself, after its children.
        context.Cancel = true;
        if (_stop.IsCancellationRequested)
        {
            _kill.Cancel();
        }
        else
        {
            _stop.Cancel();
        }
    }
}
