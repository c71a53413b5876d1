namespace SmdSs.Diagnostics;

/// <summary>
/// Lets at most a few events of one kind through per second and counts the rest, so that a
/// flood of bad connections cannot flood the log. Time is an argument; thread-safe.
/// </summary>
internal sealed class LogRateLimit(int perSecond)
{
    private readonly Lock _lock = new();
    private long _windowStartMs = long.MinValue / 2;
    private int _inWindow;
    private long _suppressed;

    /// <summary>Whether to log an event at <paramref name="nowMs"/>; when so, how many were suppressed since the last one logged.</summary>
    public bool TryTake(long nowMs, out long suppressed)
    {
        lock (_lock)
        {
            if (nowMs - _windowStartMs >= 1000)
            {
                _windowStartMs = nowMs;
                _inWindow = 0;
            }

            if (_inWindow < perSecond)
            {
                _inWindow++;
                suppressed = _suppressed;
                _suppressed = 0;
                return true;
            }

            _suppressed++;
            suppressed = 0;
            return false;
        }
    }
}
