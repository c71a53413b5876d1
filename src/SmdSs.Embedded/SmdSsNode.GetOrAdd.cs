using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Compute;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// GetOrAdd with a single flight across the cluster. A caller that misses the key asks its
/// primary for a claim: the first gets it and runs its factory, then stores the value with a
/// "complete" (add if absent); the others' requests wait at the primary (long polls) until the
/// value is stored, the claimer gives up (one of them claims next), or the claim lapses after
/// SingleFlightTimeout. If the primary dies, the flight is lost and a caller on the new primary
/// claims again: the factory may then run twice.
/// </summary>
public sealed partial class SmdSsNode
{
    private readonly SingleFlights _singleFlights = new();

    /// <inheritdoc />
    public async ValueTask<byte[]> GetOrAddAsync(string key, Func<CancellationToken, ValueTask<byte[]>> factory, DistributedCacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        KeyRules.RefuseReserved(key);
        ArgumentNullException.ThrowIfNull(factory);
        cancellationToken.ThrowIfCancellationRequested();
        uint hash = KeyRules.ValidateAndHash(key);
        FlatFileStore store = RunningStore();
        EntryExpiry.FromOptions(options, _time.GetUtcNow());
        PieSlice slice = SliceMap!.Find(hash);
        if (CanReadLocally(slice) && TryReadLocal(store.SliceFor(hash), key, MessageType.Get, RoleFor(slice), out byte[]? local) && local is not null)
        {
            return local;
        }

        while (true)
        {
            (ClaimOutcome outcome, long token, byte[] value) = ComputeMessages.DecodeClaim(
                await AtomicAsync(AtomicKind.Claim, key, null, 0, "", [], cancellationToken).ConfigureAwait(false));
            switch (outcome)
            {
                case ClaimOutcome.Found:
                    return value;
                case ClaimOutcome.Claimed:
                    byte[] made = await MakeValueAsync(key, token, factory, cancellationToken).ConfigureAwait(false);
                    return await AtomicAsync(AtomicKind.Complete, key, options, token, "", made, cancellationToken).ConfigureAwait(false);
            }

            // Wait: the value is still being made elsewhere; ask again.
        }
    }

    /// <summary>Runs the factory of the caller holding the claim; if it fails, gives the claim back and rethrows.</summary>
    private async ValueTask<byte[]> MakeValueAsync(string key, long token, Func<CancellationToken, ValueTask<byte[]>> factory, CancellationToken cancellationToken)
    {
        try
        {
            byte[] made = await factory(cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The GetOrAdd factory of '{key}' returned null.");
            KeyRules.ValidateValueLength(made.Length, _options.MaxValueBytes);
            return made;
        }
        catch
        {
            await AbandonClaimAsync(key, token).ConfigureAwait(false);
            throw;
        }
    }

    private async ValueTask AbandonClaimAsync(string key, long token)
    {
        try
        {
            await AtomicAsync(AtomicKind.Abandon, key, null, token, "", [], CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SmdSsUnavailableException or InvalidOperationException)
        {
            // The claim lapses after SingleFlightTimeout instead.
        }
    }

    /// <summary>The primary's side: the live value, a new claim, or (after a long poll) "wait".</summary>
    private async ValueTask<(MessageType, byte[])> OnClaimAsync(AtomicRequest request, uint hash, CancellationToken cancellationToken)
    {
        // Shorter than the caller's own timeout, so that the answer "wait" reaches it.
        long pollUntil = MonoMs() + (long)Math.Min(_options.RequestTimeout.TotalMilliseconds / 2, 2000);
        for (bool again = false; ; again = true)
        {
            // Woken after a wait, it may no longer answer for the key: the caller asks again, where the map sends it.
            if (again && (SliceMap!.Find(hash).Primary != SelfRecord!.Id || Withdrawn || _slices!.IsHandingOverKey(hash) || (!HasReadQuorum() && HasMajorityToKeep())))
            {
                return (MessageType.Ok, ComputeMessages.EncodeClaim(ClaimOutcome.Wait, 0, []));
            }

            SingleFlights.Flight flight;
            bool claimed;
            using (await _keyLocks.LockAsync(hash, cancellationToken).ConfigureAwait(false))
            {
                // One Get counted per request, however often it looks.
                if (ReadAndSlide(RunningStore().SliceFor(hash), request.Key, countGet: !again) is { } value)
                {
                    return (MessageType.Ok, ComputeMessages.EncodeClaim(ClaimOutcome.Found, 0, value));
                }

                flight = _singleFlights.Join(request.Key, MonoMs(), (long)_options.SingleFlightTimeout.TotalMilliseconds, out claimed, request.OperationId);
            }

            if (claimed)
            {
                return (MessageType.Ok, ComputeMessages.EncodeClaim(ClaimOutcome.Claimed, flight.Token, []));
            }

            long remainingMs = pollUntil - MonoMs();
            if (remainingMs <= 0)
            {
                return (MessageType.Ok, ComputeMessages.EncodeClaim(ClaimOutcome.Wait, 0, []));
            }

            using var poll = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task lapse = Task.Delay(TimeSpan.FromMilliseconds(remainingMs), _time, poll.Token);
            Task first = await Task.WhenAny(flight.Done.Task, lapse).ConfigureAwait(false);
            await poll.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (first != flight.Done.Task)
            {
                return (MessageType.Ok, ComputeMessages.EncodeClaim(ClaimOutcome.Wait, 0, []));
            }

            // Completed, abandoned or lapsed: look again. The value made is not handed out as
            // it was completed: a Remove may have landed while it was being replicated, and a
            // caller that came after the Remove must not get it (placement simulation, seed 2164
            // of scope 7); absent, the caller may claim.
        }
    }
}
