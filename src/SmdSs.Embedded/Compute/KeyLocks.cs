namespace SmdSs.Compute;

/// <summary>
/// Striped per-key locks of a primary: every write of a key takes its stripe while it reads the
/// current value, versions and applies the new one, so a read-modify-write (increment, compare-
/// and-swap, entry processor) is atomic with respect to every other write of that key. Held only
/// for the local apply, never across replication: the next operation on the key may start while
/// the previous one is still travelling to the replicas (both carry whole values, and replicas
/// keep the newer version).
/// </summary>
internal sealed class KeyLocks
{
    private readonly SemaphoreSlim[] _stripes;

    public KeyLocks(int stripes = 1024)
    {
        _stripes = new SemaphoreSlim[stripes];
        for (int i = 0; i < stripes; i++)
        {
            _stripes[i] = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>Takes the stripe of <paramref name="keyHash"/>; dispose the result to release it.</summary>
    public ValueTask<Releaser> LockAsync(uint keyHash, CancellationToken cancellationToken)
    {
        SemaphoreSlim stripe = _stripes[keyHash % (uint)_stripes.Length];
        return stripe.Wait(0, CancellationToken.None) ? ValueTask.FromResult(new Releaser(stripe)) : WaitAsync(stripe, cancellationToken);
    }

    private static async ValueTask<Releaser> WaitAsync(SemaphoreSlim stripe, CancellationToken cancellationToken)
    {
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(stripe);
    }

    public readonly struct Releaser(SemaphoreSlim stripe) : IDisposable
    {
        public void Dispose() => stripe.Release();
    }
}
