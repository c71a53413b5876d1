using System.Collections.Concurrent;

namespace SmdSs.Compute;

/// <summary>
/// GetOrAdd's stampede guard on a key's primary: per missing key, the one caller that holds the
/// claim (runs the value factory) and a completion the others wait on. A claim ends when its
/// value is stored (the waiters are woken and look at the key again: it may have been removed
/// meanwhile), when its caller gives up (one waiter claims next), or
/// after the timeout (its caller's node may be dead; one waiter claims next). Callers hold the
/// key's lock (see <see cref="KeyLocks"/>) around every call, so a check and a claim are one step.
/// </summary>
internal sealed class SingleFlights
{
    private readonly ConcurrentDictionary<string, Flight> _flights = new(StringComparer.Ordinal);
    private long _nextToken;

    public int Count => _flights.Count;

    /// <summary>
    /// The running flight of <paramref name="key"/>, or a new one claimed by the caller
    /// (<paramref name="claimed"/>). A caller that claimed the running flight under
    /// <paramref name="claimer"/> (its request's operation id, which a retry repeats) holds it
    /// still: its first answer was lost, and it would otherwise wait on its own claim until it lapsed.
    /// </summary>
    public Flight Join(string key, long nowMs, long timeoutMs, out bool claimed, ulong claimer = 0)
    {
        if (_flights.TryGetValue(key, out Flight? running))
        {
            if (running.ExpiresMs > nowMs)
            {
                claimed = claimer != 0 && running.Claimer == claimer;
                return running;
            }

            End(key, running, value: null);
        }

        var flight = new Flight(Interlocked.Increment(ref _nextToken), nowMs + timeoutMs, claimer);
        _flights[key] = flight;
        claimed = true;
        return flight;
    }

    /// <summary>The key now has <paramref name="value"/> (the flight's outcome): every waiter is woken.</summary>
    public void Complete(string key, byte[] value)
    {
        if (_flights.TryGetValue(key, out Flight? flight))
        {
            End(key, flight, value);
        }
    }

    /// <summary>The claimer of <paramref name="token"/> gave up: the waiters ask again, and one of them claims.</summary>
    public void Abandon(string key, long token)
    {
        if (_flights.TryGetValue(key, out Flight? flight) && flight.Token == token)
        {
            End(key, flight, value: null);
        }
    }

    private void End(string key, Flight flight, byte[]? value)
    {
        _flights.TryRemove(new KeyValuePair<string, Flight>(key, flight));
        flight.Done.TrySetResult(value);
    }

    /// <summary>One claim: its token, when it lapses, the operation id it was claimed under (0: none), and its outcome (the value, or null when abandoned or lapsed).</summary>
    internal sealed class Flight(long token, long expiresMs, ulong claimer = 0)
    {
        public long Token { get; } = token;

        public long ExpiresMs { get; } = expiresMs;

        public ulong Claimer { get; } = claimer;

        public TaskCompletionSource<byte[]?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
