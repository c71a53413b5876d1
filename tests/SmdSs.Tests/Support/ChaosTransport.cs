using System.Diagnostics;
using SmdSs.Protocol;
using SmdSs.Transport;

namespace SmdSs.Tests.Support;

/// <summary>
/// One node's transport in a <see cref="ChaosNetwork"/>. A dropped or partitioned message fails
/// at once with <see cref="PeerUnavailableException"/>, as a broken link does; so does every
/// message from or to an instance of a node that was crashed. Delays, holds for
/// reordering and late replies count against the sender's timeout: past it the send fails as an
/// unanswered one does (a late reply's request did happen), and the sender's cancellation token
/// cancels any wait. A duplicate is sent alongside the original and its answer is ignored; it
/// never outlives the send (as a retransmission never reaches a peer after the sender moved on).
/// </summary>
internal sealed class ChaosTransport(ChaosNetwork network, int self, int life, IPeerTransport inner) : IPeerTransport
{
    private static readonly TimeSpan ReorderHold = TimeSpan.FromMilliseconds(300);

    public async Task<Frame> SendAsync(string endpoint, MessageType type, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (network.LifeOf(self) != life)
        {
            throw new PeerUnavailableException(endpoint, "this node was crashed by the test");
        }

        if (!network.TryFindNode(endpoint, out int to, out int peerLife))
        {
            return await inner.SendAsync(endpoint, type, payload, timeout, cancellationToken).ConfigureAwait(false);
        }

        if (network.LifeOf(to) != peerLife)
        {
            throw new PeerUnavailableException(endpoint, "connection refused: that node was crashed by the test");
        }

        network.Counters.Sent();
        FaultDecision fault = network.Decide(self, to);
        ThrowIfCutOrDropped(endpoint, to, fault.Drop);
        long started = Stopwatch.GetTimestamp();
        TimeSpan Remaining() => timeout - Stopwatch.GetElapsedTime(started);
        ChaosNetwork.Link link = network.LinkOf(self, to);
        if (fault.Reorder)
        {
            // Wait until a later message on this link went ahead (or the hold ends).
            network.Counters.Reordered();
            using var holdEnds = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            holdEnds.CancelAfter(Max(Min(ReorderHold, Remaining()), TimeSpan.Zero));
            await link.NextPassed.WaitAsync(holdEnds.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
        }

        if (fault.Delay > TimeSpan.Zero)
        {
            network.Counters.Delayed();
            await WaitWithinAsync(fault.Delay, Remaining(), endpoint, timeout, cancellationToken).ConfigureAwait(false);
        }

        // A partition that began while the message was held loses it.
        ThrowIfCutOrDropped(endpoint, to, drop: false);
        TimeSpan left = Max(Remaining(), TimeSpan.FromMilliseconds(1));
        Task<Frame> original;
        Task<Frame>? copy = null;
        if (fault.Duplicate)
        {
            network.Counters.Duplicated();
            copy = inner.SendAsync(endpoint, type, payload, left, cancellationToken);
        }

        original = inner.SendAsync(endpoint, type, payload, left, cancellationToken);
        link.Passed();
        Frame reply;
        try
        {
            reply = await original.ConfigureAwait(false);
        }
        finally
        {
            if (copy is not null)
            {
                await ((Task)copy).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        if (fault.ReplyDelay > TimeSpan.Zero)
        {
            network.Counters.LateReply();
            await WaitWithinAsync(fault.ReplyDelay, Remaining(), endpoint, timeout, cancellationToken).ConfigureAwait(false);
        }

        return reply;
    }

    public void Forget(string endpoint) => inner.Forget(endpoint);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private void ThrowIfCutOrDropped(string endpoint, int to, bool drop)
    {
        if (network.IsCut(self, to))
        {
            network.Counters.Cut();
            throw new PeerUnavailableException(endpoint, "partitioned by the test");
        }

        if (drop)
        {
            network.Counters.Dropped();
            throw new PeerUnavailableException(endpoint, "dropped by the test");
        }
    }

    // A wait longer than what is left of the timeout ends with the timeout, as an unanswered send does.
    private async Task WaitWithinAsync(TimeSpan wait, TimeSpan remaining, string endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (wait < remaining)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            return;
        }

        await Task.Delay(Max(remaining, TimeSpan.Zero), cancellationToken).ConfigureAwait(false);
        network.Counters.TimedOut();
        throw new PeerUnavailableException(endpoint, $"no answer within {timeout.TotalMilliseconds:0} ms (delayed by the test)");
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
