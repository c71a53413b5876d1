namespace SmdSs.Tests.Consistency;

/// <summary>
/// The register checker on histories whose verdict is known: it must accept every history that
/// some order explains, and reject the anomalies (a stale read after a newer one, two winners of
/// one compare-and-swap, a value nobody wrote), or a checker that always says yes would pass.
/// </summary>
public sealed class LinearizabilityCheckerTests
{
    private static RegisterOperation W(string client, string? value, long from, long? to) => RegisterOperation.Write(client, value, from, to);

    private static RegisterOperation R(string client, string? read, long from, long to) => RegisterOperation.Read(client, read, from, to);

    [Fact]
    public void The_stale_read_of_issue_18_is_not_linearizable()
    {
        // Key lin:a: a read that starts after another read saw the swapped value sees the old one.
        LinearizabilityResult result = LinearizabilityChecker.CheckRegister(
        [
            W("c0", "c0-240", 5_281_000, 5_281_100),
            RegisterOperation.Cas("c3", "c0-240", "c3-248", swapped: true, 5_282_346, 5_283_081),
            R("c2", "c3-248", 5_282_617, 5_282_626),
            R("c1", "c0-240", 5_282_630, 5_282_637),
        ]);

        Assert.Equal(Linearizability.NotLinearizable, result.Verdict);
        Assert.Contains("read -> \"c0-240\"   <- stuck", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_reads_overlapping_each_other_are_linearizable()
    {
        // Had the second read begun before the first ended, it could be ordered before the swap.
        Assert.True(LinearizabilityChecker.CheckRegister(
        [
            W("c0", "c0-240", 5_281_000, 5_281_100),
            RegisterOperation.Cas("c3", "c0-240", "c3-248", swapped: true, 5_282_346, 5_283_081),
            R("c2", "c3-248", 5_282_617, 5_282_626),
            R("c1", "c0-240", 5_282_620, 5_282_637),
        ]).IsLinearizable);
    }

    [Fact]
    public void Sequential_writes_reads_and_removes_are_linearizable_and_a_read_of_an_overwritten_value_is_not()
    {
        List<RegisterOperation> history = [R("a", null, 0, 1), W("a", "x", 2, 3), R("b", "x", 4, 5), W("b", null, 6, 7), R("a", null, 8, 9)];
        Assert.True(LinearizabilityChecker.CheckRegister(history).IsLinearizable);

        history[4] = R("a", "x", 8, 9);
        Assert.Equal(Linearizability.NotLinearizable, LinearizabilityChecker.CheckRegister(history).Verdict);
    }

    [Fact]
    public void A_read_of_a_value_nobody_wrote_is_not_linearizable()
    {
        Assert.False(LinearizabilityChecker.CheckRegister([W("a", "x", 0, 10), R("b", "y", 2, 3)]).IsLinearizable);
    }

    [Fact]
    public void A_read_concurrent_with_a_write_may_see_either_value()
    {
        Assert.True(LinearizabilityChecker.CheckRegister([W("a", "x", 0, 1), W("a", "y", 2, 10), R("b", "x", 3, 4)]).IsLinearizable);
        Assert.True(LinearizabilityChecker.CheckRegister([W("a", "x", 0, 1), W("a", "y", 2, 10), R("b", "y", 3, 4)]).IsLinearizable);
    }

    [Fact]
    public void A_write_in_doubt_may_have_happened_or_not_but_not_both()
    {
        RegisterOperation doubtful = W("a", "y", 2, null);
        Assert.True(LinearizabilityChecker.CheckRegister([W("a", "x", 0, 1), doubtful, R("b", "x", 3, 4), R("b", "x", 5, 6)]).IsLinearizable);
        Assert.True(LinearizabilityChecker.CheckRegister([W("a", "x", 0, 1), doubtful, R("b", "x", 3, 4), R("b", "y", 5, 6)]).IsLinearizable);
        Assert.False(LinearizabilityChecker.CheckRegister([W("a", "x", 0, 1), doubtful, R("b", "y", 3, 4), R("b", "x", 5, 6)]).IsLinearizable);

        // A read in doubt says nothing.
        Assert.True(LinearizabilityChecker.CheckRegister([W("a", "x", 0, 1), new RegisterOperation("b", RegisterOperationKind.Read, "zzz", 2, null)]).IsLinearizable);
    }

    [Fact]
    public void One_compare_and_swap_wins_per_value()
    {
        RegisterOperation first = RegisterOperation.Cas("a", "x", "a1", swapped: true, 2, 10);
        Assert.False(LinearizabilityChecker.CheckRegister([W("w", "x", 0, 1), first, RegisterOperation.Cas("b", "x", "b1", swapped: true, 3, 9)]).IsLinearizable);
        Assert.True(LinearizabilityChecker.CheckRegister([W("w", "x", 0, 1), first, RegisterOperation.Cas("b", "x", "b1", swapped: false, 3, 9)]).IsLinearizable);

        // A swap that failed although the value matched all along is an anomaly too.
        Assert.False(LinearizabilityChecker.CheckRegister([W("w", "x", 0, 1), RegisterOperation.Cas("b", "x", "b1", swapped: false, 3, 4), R("c", "x", 5, 6)]).IsLinearizable);

        // In doubt: it may have swapped.
        Assert.True(LinearizabilityChecker.CheckRegister([W("w", "x", 0, 1), RegisterOperation.Cas("b", "x", "b1", swapped: false, 3, null), R("c", "b1", 5, 6)]).IsLinearizable);
    }

    [Fact]
    public void Get_or_add_adds_once_and_then_returns_what_is_there()
    {
        static RegisterOperation G(string client, string made, string? returned, long from, long? to) => RegisterOperation.GetOrAdd(client, made, returned, from, to);

        // Two callers at once: one adds, both return its value.
        Assert.True(LinearizabilityChecker.CheckRegister([G("a", "a1", "b1", 0, 10), G("b", "b1", "b1", 1, 9)]).IsLinearizable);

        // Each returning its own value: two adds of one absent key.
        Assert.False(LinearizabilityChecker.CheckRegister([G("a", "a1", "a1", 0, 10), G("b", "b1", "b1", 1, 9)]).IsLinearizable);

        // After a write it returns the value written, not its own; after a remove it adds again.
        Assert.True(LinearizabilityChecker.CheckRegister([W("w", "x", 0, 1), G("a", "a1", "x", 2, 3), W("w", null, 4, 5), G("b", "b1", "b1", 6, 7)]).IsLinearizable);
        Assert.False(LinearizabilityChecker.CheckRegister([W("w", "x", 0, 1), G("a", "a1", "a1", 2, 3)]).IsLinearizable);
        Assert.False(LinearizabilityChecker.CheckRegister([W("w", "x", 0, 1), W("w", null, 2, 3), G("a", "a1", "x", 4, 5)]).IsLinearizable);

        // The value it added is there for a later read; a read that starts after it ended cannot miss it.
        Assert.True(LinearizabilityChecker.CheckRegister([G("a", "a1", "a1", 0, 1), R("b", "a1", 2, 3)]).IsLinearizable);
        Assert.False(LinearizabilityChecker.CheckRegister([G("a", "a1", "a1", 0, 1), R("b", null, 2, 3)]).IsLinearizable);

        // In doubt: it may have added, or not.
        Assert.True(LinearizabilityChecker.CheckRegister([G("a", "a1", null, 0, null), R("b", "a1", 2, 3)]).IsLinearizable);
        Assert.True(LinearizabilityChecker.CheckRegister([G("a", "a1", null, 0, null), R("b", null, 2, 3)]).IsLinearizable);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Histories_made_from_a_real_register_pass_and_one_wrong_read_fails(int seed)
    {
        var random = new Random(seed);
        List<RegisterOperation> history = RandomLinearizableHistory(random, clients: 5, operations: 60);
        LinearizabilityResult result = LinearizabilityChecker.CheckRegister(history);
        Assert.True(result.IsLinearizable, result.Explanation);

        // Any read answered with a value never written cannot be explained.
        int read = history.FindIndex(o => o.Kind == RegisterOperationKind.Read);
        history[read] = history[read] with { Value = "never-written" };
        Assert.Equal(Linearizability.NotLinearizable, LinearizabilityChecker.CheckRegister(history).Verdict);
    }

    [Fact]
    public void A_search_too_large_for_its_limit_says_so_rather_than_guess()
    {
        List<RegisterOperation> history = [.. Enumerable.Range(0, 40).Select(i => W("c" + i, "v" + i, 0, 100)), R("r", "nope", 101, 102)];

        Assert.Equal(Linearizability.Inconclusive, LinearizabilityChecker.CheckRegister(history, stepLimit: 1_000).Verdict);
    }

    // Clients take turns at random; each operation takes effect at one instant (its linearization
    // point) inside an interval that overlaps others at random.
    private static List<RegisterOperation> RandomLinearizableHistory(Random random, int clients, int operations)
    {
        var history = new List<RegisterOperation>();
        string? value = null;
        var busyUntil = new long[clients];
        long now = 0;
        for (int i = 0; i < operations; i++)
        {
            now += random.Next(1, 4);
            int client = Enumerable.Range(0, clients).Where(c => busyUntil[c] < now).DefaultIfEmpty(-1).First();
            if (client < 0)
            {
                continue;
            }

            long invoked = now - random.Next(0, 3);
            invoked = Math.Max(invoked, busyUntil[client] + 1);
            long completed = now + random.Next(0, 6);
            busyUntil[client] = completed;
            string name = "c" + client;
            switch (random.Next(3))
            {
                case 0:
                    value = random.Next(4) == 0 ? null : $"{name}-{i}";
                    history.Add(W(name, value, invoked, completed));
                    break;
                case 1:
                    history.Add(R(name, value, invoked, completed));
                    break;
                default:
                    string? expected = random.Next(2) == 0 ? value : "other";
                    bool swapped = value == expected;
                    string next = $"{name}-cas-{i}";
                    history.Add(RegisterOperation.Cas(name, expected, next, swapped, invoked, completed));
                    value = swapped ? next : value;
                    break;
            }
        }

        history.Add(R("last", value, now + 100, now + 101));
        return history;
    }
}
