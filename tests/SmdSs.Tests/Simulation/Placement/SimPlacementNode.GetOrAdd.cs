using System.Text;
using SmdSs.Compute;
using SmdSs.Core;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>
/// GetOrAdd, as <c>SmdSsNode.GetOrAdd</c> runs it: a caller that cannot read the key locally asks
/// the primary for a claim; the primary answers the live value, or a claim through the real
/// <see cref="SingleFlights"/>, or holds the request (a long poll) until the claim ends or the
/// poll's time is up ("wait": ask again). The claimer runs its factory (it takes time, and may
/// fail: the claim is given back) and completes: the primary adds the value if the key is still
/// absent, replicates it like a write, and only then wakes the waiters, which look again. A claim whose
/// caller died lapses after the single-flight timeout. The flights live in the primary's memory.
/// </summary>
internal sealed partial class SimPlacementNode
{
    private const int SingleFlightTimeoutMs = 30_000;

    // As OnClaimAsync: shorter than the caller's own timeout, so that "wait" reaches it.
    private const int ClaimPollMs = RequestTimeoutMs / 2 < 2_000 ? RequestTimeoutMs / 2 : 2_000;

    private SingleFlights _singleFlights = new();

    // The requests held in a long poll, by the flight they wait on, in the order they came (the
    // node's wait on the flight's completion, without a task: the flight is looked at after each
    // call that may end it).
    private readonly List<(SingleFlights.Flight Flight, Action Then)> _flightWaiters = [];

    /// <summary>
    /// A client's GetOrAdd at this node, <paramref name="made"/> being what its factory makes; the
    /// reply's value is the key's (found, or added by this caller or another). A factory that
    /// fails, or a caller still waiting once the clients stop, fails the call (null). Completes
    /// carry <paramref name="operation"/>.
    /// </summary>
    public void GetOrAdd(string key, string made, ulong operation, Func<bool> givenUp, Action<DataReply?> done)
    {
        uint hash = KeyHash.Of(key);
        if (CanReadLocally(View.Find(hash)) && ReadHere(key) is { Value: not null } local)
        {
            done(local);
            return;
        }

        long life = Life;
        void Ask()
        {
            if (givenUp())
            {
                done(null);
                return;
            }

            // As AtomicAsync: each claim request has an operation id of its own, which a retry repeats.
            ulong claimer = sim.Data.NextOperationId();
            Forward(hash, (primary, reply) => primary.OnForwardedClaim(key, claimer, reply), claim =>
            {
                if (claim is null || claim.Claim == ClaimOutcome.Found)
                {
                    done(claim);
                }
                else if (claim.Claim == ClaimOutcome.Wait)
                {
                    Ask();
                }
                else
                {
                    MakeAndComplete(key, made, operation, claim.Token, life, givenUp, done);
                }
            });
        }

        Ask();
    }

    // The claimer: its factory runs here, then the value goes to the primary (add if absent); a
    // factory that fails (one in ten), or a caller given up meanwhile, gives the claim back.
    private void MakeAndComplete(string key, string made, ulong operation, long token, long life, Func<bool> givenUp, Action<DataReply?> done)
    {
        bool fails = sim.Random.Next(10) == 0;
        Action ended = sim.Data.FactoryBegins(key);
        sim.After(sim.Random.Next(20, 500), () =>
        {
            ended();
            if (!Alive(life))
            {
                return;
            }

            if (fails || givenUp())
            {
                sim.Note($"{Id}: the factory of {key} failed; the claim #{token} is given back");
                Forward(KeyHash.Of(key), (primary, reply) => primary.OnForwardedAbandon(key, token, reply), _ => { });
                done(null);
                return;
            }

            Forward(
                KeyHash.Of(key),
                (primary, reply) => primary.OnForwardedAtomic(new AtomicRequest(AtomicKind.Complete, key, operation, EntryExpiry.None, token, "", Encoding.ASCII.GetBytes(made)), reply),
                done);
        });
    }

    // As OnAtomicAsync then OnClaimAsync: at the primary, while it hears a majority.
    private void OnForwardedClaim(string key, ulong claimer, Action<DataReply> reply)
    {
        if (RefusalAsAtomicPrimary(View.Find(KeyHash.Of(key))) is { } refused)
        {
            reply(refused);
            return;
        }

        long life = Life;
        long pollUntil = sim.NowMs + ClaimPollMs;
        var waitAnswer = new DataReply(DataError.None, Answerer: Id, Claim: ClaimOutcome.Wait);
        void Try(bool again = false)
        {
            // As OnClaimAsync: woken after a wait, it may no longer answer for the key.
            if (again && (HandingOver(key) || RefusalAsAtomicPrimary(View.Find(KeyHash.Of(key))) is not null))
            {
                reply(waitAnswer);
                return;
            }

            if (_store.TryGetValue(key, out StoredValue held) && held.Value is not null)
            {
                reply(new DataReply(DataError.None, held.Version, held.Value, Id));
                return;
            }

            SingleFlights.Flight flight = _singleFlights.Join(key, sim.NowMs, SingleFlightTimeoutMs, out bool claimed, claimer);
            // Join ends a flight that lapsed: its waiters ask again.
            WakeFlightWaiters();
            if (claimed)
            {
                sim.Note($"{Id} gives the claim #{flight.Token} of {key}");
                reply(new DataReply(DataError.None, Answerer: Id, Claim: ClaimOutcome.Claimed, Token: flight.Token));
                return;
            }

            long remainingMs = pollUntil - sim.NowMs;
            if (remainingMs <= 0)
            {
                reply(waitAnswer);
                return;
            }

            bool over = false;
            _flightWaiters.Add((flight, () =>
            {
                if (!over)
                {
                    // Completed, given back or lapsed: look again (seed 2164: the value made,
                    // handed out as completed, had been removed while it was replicated).
                    over = true;
                    Try(again: true);
                }
            }));
            sim.After(remainingMs, () =>
            {
                if (!over && Alive(life))
                {
                    over = true;
                    reply(waitAnswer);
                }
            });
        }

        Try();
    }

    // As OnAtomicAsync for Abandon: at the primary, without the majority check.
    private void OnForwardedAbandon(string key, long token, Action<DataReply> reply)
    {
        if (View.Find(KeyHash.Of(key)).Primary != Id || Withdrawn || !_confirmed)
        {
            reply(new DataReply(DataError.NotPrimary));
            return;
        }

        _singleFlights.Abandon(key, token);
        WakeFlightWaiters();
        reply(new DataReply(DataError.None, Answerer: Id));
    }

    // As UpdateAsPrimaryAsync for Complete: add if absent (AtomicUpdate decides), replicate the
    // value added like a write, and only then end the flight: its waiters look again.
    private void CompleteAsPrimary(PieSlice slice, AtomicRequest request, StoredValue? live, Action<DataReply> reply)
    {
        string key = request.Key;
        var entry = new CurrentEntry(live?.Version ?? 0, EntryExpiry.None, Encoding.ASCII.GetBytes(live?.Value ?? ""));
        AtomicChange change = AtomicUpdate.Decide(request, entry, int.MaxValue, _ => null, DateTimeOffset.UnixEpoch);
        if (change.Write is null)
        {
            // As ConfirmKeyAsync (the value as decided; the node reads the key again): the value found may be this claim's own, applied by a first try
            // whose replication failed; it is replicated before anyone is told it was added (seed 1508).
            StoredValue found = live!.Value;
            OperationAnswer[] carried = _inDoubt.Of(key);
            Replicate(slice, key, found with { Answers = [.. carried] }, confirmed =>
            {
                if (confirmed.Error == DataError.None)
                {
                    _inDoubt.Confirm(key, carried);
                    EndFlight(key, found);
                }

                reply(confirmed);
            });
            return;
        }

        var written = new StoredValue(_clock.Next(WallNowMs), Encoding.ASCII.GetString(change.Write.Value), Applied: []);
        Apply(key, written);
        sim.Note($"{Id} adds {key} = {written.Value} (v{written.Version}) for claim #{request.Number}");
        Replicate(slice, key, written, replicated =>
        {
            if (replicated.Error == DataError.None)
            {
                EndFlight(key, written);
            }

            reply(replicated);
        });
    }

    private void EndFlight(string key, StoredValue value)
    {
        _singleFlights.Complete(key, Encoding.ASCII.GetBytes(value.Value!));
        WakeFlightWaiters();
    }

    // The held requests whose flight ended, in the order they came.
    private void WakeFlightWaiters()
    {
        List<(SingleFlights.Flight Flight, Action Then)> ended = _flightWaiters.FindAll(w => w.Flight.Done.Task.IsCompleted);
        if (ended.Count == 0)
        {
            return;
        }

        _flightWaiters.RemoveAll(w => w.Flight.Done.Task.IsCompleted);
        foreach ((SingleFlights.Flight _, Action then) in ended)
        {
            then();
        }
    }
}
