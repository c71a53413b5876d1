namespace SmdSs.AspNetCore.Dashboard;

/// <summary>
/// Operations per second per node, from successive samples of its operations counter and its
/// own monotonic clock (so network delay does not distort the rate). A rate covers at least
/// <see cref="MinWindowMs"/> of the node's time: several browser tabs polling at once do not
/// shrink the window into noise. A node that restarted (another start number) or whose figures
/// went backwards starts over. Shared by every request of one dashboard; thread-safe.
/// </summary>
internal sealed class OperationRates
{
    public const long MinWindowMs = 900;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, State> _nodes = new(StringComparer.Ordinal);

    /// <summary>Records this round's samples and returns each node's latest rate (null until one is known).</summary>
    public Dictionary<string, double?> Update(IEnumerable<SmdSsNodeStats> stats)
    {
        var rates = new Dictionary<string, double?>(StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (SmdSsNodeStats node in stats)
            {
                if (node is not { Starts: { } starts, MonotonicMs: { } clockMs, Operations: { } operations })
                {
                    rates[node.Id] = null;
                    _nodes.Remove(node.Id);
                    continue;
                }

                rates[node.Id] = Next(node.Id, new Sample(starts, clockMs, operations));
            }

            foreach (string gone in _nodes.Keys.Where(id => !rates.ContainsKey(id)).ToList())
            {
                _nodes.Remove(gone);
            }
        }

        return rates;
    }

    private double? Next(string id, Sample sample)
    {
        if (!_nodes.TryGetValue(id, out State? state) || !sample.Follows(state.Baseline))
        {
            _nodes[id] = new State(sample, null);
            return null;
        }

        long windowMs = sample.ClockMs - state.Baseline.ClockMs;
        if (windowMs < MinWindowMs)
        {
            return state.Rate;
        }

        double rate = (sample.Operations - state.Baseline.Operations) * 1000.0 / windowMs;
        _nodes[id] = new State(sample, rate);
        return rate;
    }

    private readonly record struct Sample(long Starts, long ClockMs, long Operations)
    {
        public bool Follows(Sample earlier) => Starts == earlier.Starts && ClockMs >= earlier.ClockMs && Operations >= earlier.Operations;
    }

    private sealed record State(Sample Baseline, double? Rate);
}
