using System.Globalization;

namespace SmdSs.Benchmarks.Increments;

/// <summary>One shape of increment load: how many counters the callers spread over (1 = every caller on the same key).</summary>
internal sealed record IncrementScenario(string Name, int CounterCount)
{
    public static readonly IncrementScenario HotCounter = new("1 hot counter", 1);

    public static readonly IncrementScenario ManyCounters = new("1,000 counters", 1_000);

    public static IReadOnlyList<IncrementScenario> All { get; } = [HotCounter, ManyCounters];

    /// <summary>The counter keys under <paramref name="prefix"/>: prefix0, prefix1, ...</summary>
    public static string[] Keys(string prefix, int count) =>
        [.. Enumerable.Range(0, count).Select(i => prefix + i.ToString(CultureInfo.InvariantCulture))];
}
