using System.Collections.Immutable;
using SmdSs.Model;

namespace SmdSs.Core;

/// <summary>
/// What the read path needs to know of leases, as an immutable snapshot: the leases this node
/// holds as a replica (per slice: from which primary, until when), and since when it leads
/// each slice it leads. Times are the host's monotonic milliseconds.
/// </summary>
internal sealed class ReadLeases
{
    public static readonly ReadLeases None = new(ImmutableDictionary<uint, (NodeId, long)>.Empty, ImmutableDictionary<uint, long>.Empty);

    private readonly ImmutableDictionary<uint, (NodeId Primary, long UntilMs)> _held;
    private readonly ImmutableDictionary<uint, long> _ledSinceMs;

    private ReadLeases(ImmutableDictionary<uint, (NodeId, long)> held, ImmutableDictionary<uint, long> ledSinceMs)
    {
        _held = held;
        _ledSinceMs = ledSinceMs;
    }

    /// <summary>Does this node hold a lease on the slice at <paramref name="sliceStart"/> from <paramref name="primary"/> at <paramref name="nowMs"/>?</summary>
    public bool Holds(uint sliceStart, NodeId primary, long nowMs) =>
        _held.TryGetValue(sliceStart, out var lease) && lease.Primary == primary && nowMs < lease.UntilMs;

    /// <summary>When this node last began to lead the slice at <paramref name="sliceStart"/>; long ago if never.</summary>
    public long PrimarySince(uint sliceStart) => _ledSinceMs.GetValueOrDefault(sliceStart, long.MinValue / 2);

    public ReadLeases Holding(NodeId primary, IEnumerable<uint> starts, long untilMs) =>
        new(_held.SetItems(starts.Select(s => KeyValuePair.Create(s, (primary, untilMs)))), _ledSinceMs);

    public ReadLeases HoldingNone() => new(ImmutableDictionary<uint, (NodeId, long)>.Empty, _ledSinceMs);

    public ReadLeases LedSince(IEnumerable<uint> starts, long nowMs) =>
        new(_held, _ledSinceMs.SetItems(starts.Select(s => KeyValuePair.Create(s, nowMs))));
}
