using SmdSs.Compute;

namespace SmdSs.Tests.Compute;

/// <summary>GetOrAdd's claims on a primary: one claimer per key, waiters joined, completion, abandon and lapse.</summary>
public sealed class SingleFlightsTests
{
    private const long TimeoutMs = 1_000;

    [Fact]
    public void The_first_caller_claims_and_the_next_ones_join_its_flight()
    {
        var flights = new SingleFlights();
        SingleFlights.Flight first = flights.Join("k", nowMs: 0, TimeoutMs, out bool claimed);
        Assert.True(claimed);

        SingleFlights.Flight second = flights.Join("k", nowMs: 10, TimeoutMs, out bool claimedAgain);
        Assert.False(claimedAgain);
        Assert.Same(first, second);
        Assert.False(first.Done.Task.IsCompleted);
        Assert.Equal(1, flights.Count);
    }

    [Fact]
    public void A_claimer_whose_answer_was_lost_holds_its_claim_when_it_asks_again()
    {
        var flights = new SingleFlights();
        SingleFlights.Flight first = flights.Join("k", nowMs: 0, TimeoutMs, out bool claimed, claimer: 7);
        Assert.True(claimed);

        // The same request again (a retry after the connection broke): the same claim, not a wait on itself.
        SingleFlights.Flight again = flights.Join("k", nowMs: 10, TimeoutMs, out bool claimedAgain, claimer: 7);
        Assert.True(claimedAgain);
        Assert.Same(first, again);

        // Another caller, or one without an operation id, waits.
        flights.Join("k", nowMs: 20, TimeoutMs, out bool other, claimer: 8);
        flights.Join("k", nowMs: 20, TimeoutMs, out bool unnamed);
        Assert.False(other);
        Assert.False(unnamed);
        Assert.Equal(1, flights.Count);
    }

    [Fact]
    public void Keys_have_independent_flights()
    {
        var flights = new SingleFlights();
        SingleFlights.Flight a = flights.Join("a", 0, TimeoutMs, out bool claimedA);
        SingleFlights.Flight b = flights.Join("b", 0, TimeoutMs, out bool claimedB);
        Assert.True(claimedA);
        Assert.True(claimedB);
        Assert.NotEqual(a.Token, b.Token);

        flights.Complete("a", [1]);
        Assert.True(a.Done.Task.IsCompleted);
        Assert.False(b.Done.Task.IsCompleted);
    }

    [Fact]
    public async Task Complete_gives_every_waiter_the_value_and_ends_the_flight()
    {
        var flights = new SingleFlights();
        SingleFlights.Flight flight = flights.Join("k", 0, TimeoutMs, out _);
        flights.Complete("k", [4, 2]);

        Assert.Equal([4, 2], await flight.Done.Task);
        Assert.Equal(0, flights.Count);

        // A later miss (the key removed again) starts a new flight.
        SingleFlights.Flight next = flights.Join("k", 20, TimeoutMs, out bool claimed);
        Assert.True(claimed);
        Assert.NotSame(flight, next);
    }

    [Fact]
    public void Complete_without_a_flight_does_nothing()
    {
        var flights = new SingleFlights();
        flights.Complete("k", [1]);
        Assert.Equal(0, flights.Count);
    }

    [Fact]
    public async Task Abandon_by_the_claimer_wakes_the_waiters_with_null_and_the_next_caller_claims()
    {
        var flights = new SingleFlights();
        SingleFlights.Flight flight = flights.Join("k", 0, TimeoutMs, out _);
        flights.Abandon("k", flight.Token);

        Assert.Null(await flight.Done.Task);
        SingleFlights.Flight next = flights.Join("k", 10, TimeoutMs, out bool claimed);
        Assert.True(claimed);
        Assert.NotEqual(flight.Token, next.Token);
    }

    [Fact]
    public void Abandon_with_another_claims_token_does_nothing()
    {
        // A claimer whose claim lapsed must not end the flight of the caller that claimed after it.
        var flights = new SingleFlights();
        SingleFlights.Flight old = flights.Join("k", 0, TimeoutMs, out _);
        SingleFlights.Flight current = flights.Join("k", TimeoutMs, TimeoutMs, out bool claimed);
        Assert.True(claimed);

        flights.Abandon("k", old.Token);
        Assert.False(current.Done.Task.IsCompleted);
        Assert.Same(current, flights.Join("k", TimeoutMs + 1, TimeoutMs, out bool claimedAgain));
        Assert.False(claimedAgain);
    }

    [Fact]
    public async Task A_claim_lapses_after_the_timeout_its_waiters_wake_and_the_next_caller_claims()
    {
        var flights = new SingleFlights();
        SingleFlights.Flight flight = flights.Join("k", 0, TimeoutMs, out _);

        flights.Join("k", TimeoutMs - 1, TimeoutMs, out bool beforeLapse);
        Assert.False(beforeLapse);
        Assert.False(flight.Done.Task.IsCompleted);

        SingleFlights.Flight next = flights.Join("k", TimeoutMs, TimeoutMs, out bool afterLapse);
        Assert.True(afterLapse);
        Assert.Null(await flight.Done.Task);
        Assert.Equal(2 * TimeoutMs, next.ExpiresMs);
        Assert.Equal(1, flights.Count);
    }
}
