using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs.Tests.Support;

/// <summary>
/// A transport decorator that drops the messages a rule picks, as a broken link would (the send
/// fails), and holds back the ones another rule picks for the time it gives, as a slow link would.
/// </summary>
internal sealed class FaultyTransport(IPeerTransport inner, Func<string, MessageType, bool> drop, Func<string, MessageType, TimeSpan>? delay = null) : IPeerTransport
{
    private long _dropped;

    public long Dropped => Interlocked.Read(ref _dropped);

    public Task<Frame> SendAsync(string endpoint, MessageType type, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (drop(endpoint, type))
        {
            Interlocked.Increment(ref _dropped);
            return Task.FromException<Frame>(new PeerUnavailableException(endpoint, "dropped by the test"));
        }

        TimeSpan hold = delay?.Invoke(endpoint, type) ?? TimeSpan.Zero;
        return hold > TimeSpan.Zero
            ? SendLaterAsync(hold, endpoint, type, payload, timeout, cancellationToken)
            : inner.SendAsync(endpoint, type, payload, timeout, cancellationToken);
    }

    private async Task<Frame> SendLaterAsync(TimeSpan hold, string endpoint, MessageType type, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (hold >= timeout)
        {
            // Held past the sender's timeout: it sees what a slow link shows it, a timeout.
            await Task.Delay(timeout, cancellationToken);
            throw new PeerUnavailableException(endpoint, "held back by the test past the timeout");
        }

        await Task.Delay(hold, cancellationToken);
        return await inner.SendAsync(endpoint, type, payload, timeout - hold, cancellationToken);
    }

    public void Forget(string endpoint) => inner.Forget(endpoint);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
