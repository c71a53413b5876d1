using System.Collections.Immutable;
using SmdSs.Model;

namespace SmdSs.Core;

/// <summary>
/// What the read path needs to know of leases, as an immutable snapshot: the leases this node
/// holds as a replica (per slice: from which primary, until when), since when it leads each
/// slice it leads, and since when it leads it after another node (or its own restart): a piece
/// of a split of its own is newly led for leases, not for renewals, which all reached it. Times
/// are the host's monotonic milliseconds.
/// </summary>
internal sealed class ReadLeases
{
    public static readonly ReadLeases None = new(ImmutableDictionary<uint, (NodeId, long)>.Empty, ImmutableDictionary<uint, long>.Empty, ImmutableDictionary<uint, long>.Empty);

    private readonly ImmutableDictionary<uint, (NodeId Primary, long UntilMs)> _held;
    private readonly ImmutableDictionary<uint, long> _ledSinceMs;
    private readonly ImmutableDictionary<uint, long> _tookOverSinceMs;

    private ReadLeases(ImmutableDictionary<uint, (NodeId, long)> held, ImmutableDictionary<uint, long> ledSinceMs, ImmutableDictionary<uint, long> tookOverSinceMs)
    {
        _held = held;
        _ledSinceMs = ledSinceMs;
        _tookOverSinceMs = tookOverSinceMs;
    }

    /// <summary>Does this node hold a lease on the slice at <paramref name="sliceStart"/> from <paramref name="primary"/> at <paramref name="nowMs"/>?</summary>
    public bool Holds(uint sliceStart, NodeId primary, long nowMs) =>
        _held.TryGetValue(sliceStart, out var lease) && lease.Primary == primary && nowMs < lease.UntilMs;

    /// <summary>When this node last began to lead the slice at <paramref name="sliceStart"/>; long ago if never.</summary>
    public long PrimarySince(uint sliceStart) => _ledSinceMs.GetValueOrDefault(sliceStart, long.MinValue / 2);

    /// <summary>
    /// When this node last came to lead the slice at <paramref name="sliceStart"/> after another
    /// node, or since its start (a predecessor's last renewals may not have reached it); long ago if never.
    /// </summary>
    public long TookOverSince(uint sliceStart) => _tookOverSinceMs.GetValueOrDefault(sliceStart, long.MinValue / 2);

    public ReadLeases Holding(NodeId primary, IEnumerable<uint> starts, long untilMs) =>
        new(_held.SetItems(starts.Select(s => KeyValuePair.Create(s, (primary, untilMs)))), _ledSinceMs, _tookOverSinceMs);

    public ReadLeases HoldingNone() => new(ImmutableDictionary<uint, (NodeId, long)>.Empty, _ledSinceMs, _tookOverSinceMs);

    /// <summary>This node came to lead these slices now, after another node or at its start.</summary>
    public ReadLeases LedSince(IEnumerable<uint> starts, long nowMs)
    {
        List<uint> led = [.. starts];
        return new(_held, _ledSinceMs.SetItems(led.Select(s => KeyValuePair.Create(s, nowMs))), _tookOverSinceMs.SetItems(led.Select(s => KeyValuePair.Create(s, nowMs))));
    }

    /// <summary>A piece (from <paramref name="pieceStart"/>) of a slice this node leads (from <paramref name="wholeStart"/>) is newly led for leases; it was taken over when the whole was.</summary>
    public ReadLeases LedPiece(uint wholeStart, uint pieceStart, long nowMs) =>
        new(_held, _ledSinceMs.SetItem(pieceStart, nowMs), _tookOverSinceMs.SetItem(pieceStart, TookOverSince(wholeStart)));
}
