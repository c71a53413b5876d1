using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs.Tests.Support;

/// <summary>A transport decorator that drops the messages a rule picks, as a broken link would (the send fails).</summary>
internal sealed class FaultyTransport(IPeerTransport inner, Func<string, MessageType, bool> drop) : IPeerTransport
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

        return inner.SendAsync(endpoint, type, payload, timeout, cancellationToken);
    }

    public void Forget(string endpoint) => inner.Forget(endpoint);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
