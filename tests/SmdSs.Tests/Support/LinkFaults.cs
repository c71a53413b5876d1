namespace SmdSs.Tests.Support;

/// <summary>
/// How often each fault hits one message on a link (0 to 1 each). Delays are drawn uniformly up
/// to <see cref="MaxDelay"/>; a delay longer than the sender's timeout is a message with no answer.
/// </summary>
/// <param name="Drop">The send fails at once, as on a broken link.</param>
/// <param name="Delay">The request is held before it is sent.</param>
/// <param name="ReplyDelay">The answer is held after the peer handled the request (a late answer: the request did happen).</param>
/// <param name="Duplicate">The request is sent twice at once; the copy's answer is ignored.</param>
/// <param name="Reorder">The request is held until a later one on the same link has overtaken it (or a short hold ends).</param>
/// <param name="MaxDelay">The longest delay.</param>
internal sealed record LinkFaults(double Drop, double Delay, double ReplyDelay, double Duplicate, double Reorder, TimeSpan MaxDelay)
{
    public static readonly LinkFaults None = new(0, 0, 0, 0, 0, TimeSpan.Zero);

    public override string ToString() =>
        $"drop {Drop:P0} delay {Delay:P0} late-reply {ReplyDelay:P0} dup {Duplicate:P0} reorder {Reorder:P0} max {MaxDelay.TotalMilliseconds:0}ms";
}
