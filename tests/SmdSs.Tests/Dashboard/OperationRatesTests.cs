using SmdSs.AspNetCore.Dashboard;

namespace SmdSs.Tests.Dashboard;

/// <summary>Operations per second from successive samples of each node's counter and clock.</summary>
public sealed class OperationRatesTests
{
    [Fact]
    public void The_first_sample_has_no_rate_and_the_next_a_second_later_does()
    {
        var rates = new OperationRates();
        Assert.Null(rates.Update([Stats("a", starts: 1, clockMs: 10_000, operations: 100)])["a"]);
        Assert.Equal(250.0, rates.Update([Stats("a", 1, 12_000, 600)])["a"]);
    }

    [Fact]
    public void Samples_closer_than_the_window_keep_the_last_rate_and_the_window_keeps_its_start()
    {
        var rates = new OperationRates();
        rates.Update([Stats("a", 1, 0, 0)]);
        Assert.Equal(100.0, rates.Update([Stats("a", 1, 1_000, 100)])["a"]);
        // Another tab asks 100 ms later: the same rate, not 10 operations over 100 ms.
        Assert.Equal(100.0, rates.Update([Stats("a", 1, 1_100, 200)])["a"]);
        // A second after the last full window: measured from it (1 000 ms, 300 - 100 operations).
        Assert.Equal(200.0, rates.Update([Stats("a", 1, 2_000, 300)])["a"]);
    }

    [Fact]
    public void A_restart_or_figures_going_backwards_start_over()
    {
        var rates = new OperationRates();
        rates.Update([Stats("a", 1, 0, 0)]);
        Assert.Equal(10.0, rates.Update([Stats("a", 1, 1_000, 10)])["a"]);
        Assert.Null(rates.Update([Stats("a", 2, 5, 0)])["a"]);
        Assert.Equal(3.0, rates.Update([Stats("a", 2, 1_005, 3)])["a"]);
        Assert.Null(rates.Update([Stats("a", 2, 2_005, 1)])["a"]);
    }

    [Fact]
    public void An_unreachable_node_has_no_rate_and_starts_over_when_it_answers_again()
    {
        var rates = new OperationRates();
        rates.Update([Stats("a", 1, 0, 0), Stats("b", 1, 0, 0)]);
        Dictionary<string, double?> round = rates.Update([Stats("a", 1, 1_000, 5), Unknown("b")]);
        Assert.Equal(5.0, round["a"]);
        Assert.Null(round["b"]);
        Assert.Null(rates.Update([Stats("a", 1, 2_000, 10), Stats("b", 1, 2_000, 50)])["b"]);
    }

    private static SmdSsNodeStats Stats(string id, long starts, long clockMs, long operations) =>
        new(id, "127.0.0.1:1", "Up", false, true, starts, clockMs, 0, 0, 0, 0, 0, 0, operations, "n", "s");

    private static SmdSsNodeStats Unknown(string id) =>
        new(id, "127.0.0.1:1", "Down", false, false, null, null, null, null, null, null, null, null, null, null, null);
}
