using System.Collections.Concurrent;

namespace SmdSs.Diagnostics;

/// <summary>
/// Lets one log line per subject through per interval and counts the ones held back, so that a
/// failure repeated by every request (a dead replica, until it is declared Down) is logged
/// once a second with a count, not thousands of times.
/// </summary>
internal sealed class RateLimitedLog<TSubject>(long intervalMs)
    where TSubject : notnull
{
    private readonly ConcurrentDictionary<TSubject, Window> _windows = new();

    /// <summary>True when a line about <paramref name="subject"/> may be logged now; <paramref name="suppressed"/>: lines held back since the last one.</summary>
    public bool ShouldLog(TSubject subject, long nowMs, out long suppressed)
    {
        Window window = _windows.GetOrAdd(subject, _ => new Window());
        lock (window)
        {
            if (window.LoggedAtMs != 0 && nowMs - window.LoggedAtMs < intervalMs)
            {
                window.Suppressed++;
                suppressed = 0;
                return false;
            }

            suppressed = window.Suppressed;
            window.Suppressed = 0;
            window.LoggedAtMs = nowMs;
            return true;
        }
    }

    private sealed class Window
    {
        public long LoggedAtMs { get; set; }

        public long Suppressed { get; set; }
    }
}
