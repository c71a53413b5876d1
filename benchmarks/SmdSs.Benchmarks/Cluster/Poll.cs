namespace SmdSs.Benchmarks.Cluster;

/// <summary>Waits for a condition with a deadline, checking every 100 ms.</summary>
internal static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <exception cref="TimeoutException">The condition was not true within <paramref name="timeout"/>.</exception>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Not within {timeout.TotalSeconds:0} s: {what}.");
            }

            await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
        }
    }
}
