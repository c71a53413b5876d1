using SmdSs.Model;

namespace SmdSs.Placement;

/// <summary>
/// When a primary cuts a slice at its middle: only a quiet one (every replica in sync, and the
/// host catches none of them up), not narrower than <see cref="MinWidth"/>, once it passed the
/// bytes or keys threshold. Pure.
/// </summary>
internal static class SplitRule
{
    /// <summary>Slices narrower than this are not split further (at most a million slices).</summary>
    public const ulong MinWidth = 1UL << 12;

    /// <summary>The slices <paramref name="self"/> leads that may be split now, as far as the map tells.</summary>
    public static IEnumerable<PieSlice> Candidates(SliceMap map, NodeId self) =>
        map.Slices.Where(s => s.Primary == self && s.Replicas.Length == s.InSync.Length && s.Range.Width >= MinWidth);

    /// <summary>Has a slice of <paramref name="bytes"/> live bytes and <paramref name="keys"/> keys grown past either threshold?</summary>
    public static bool IsLarge(long bytes, long keys, long thresholdBytes, long thresholdKeys) =>
        bytes >= thresholdBytes || keys >= thresholdKeys;
}
