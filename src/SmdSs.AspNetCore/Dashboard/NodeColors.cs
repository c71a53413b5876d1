using System.Globalization;

namespace SmdSs.AspNetCore.Dashboard;

/// <summary>
/// A node's color on the dashboard, derived from its id so that it is the same on every node,
/// every refresh and every screenshot. Ids are random 64-bit numbers: the multiplicative hash
/// picks one of 12 well-separated colors. When two nodes of one map pick the same color, the
/// higher id takes the next free one, so a small farm never shows two nodes alike.
/// </summary>
internal static class NodeColors
{
    // Tableau-like hues, each readable on white and distinct from its neighbours; gray is kept for "unknown".
    private static readonly string[] Palette =
    [
        "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2",
        "#edc948", "#9c755f", "#ff9da7", "#2f4b7c", "#8cd17d", "#d37295",
    ];

    /// <summary>The color of each id (16 hex digits), collisions resolved in id order.</summary>
    public static Dictionary<string, string> Assign(IEnumerable<string> ids)
    {
        var colors = new Dictionary<string, string>(StringComparer.Ordinal);
        var taken = new bool[Palette.Length];
        foreach (string id in ids.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            int slot = Preferred(id);
            for (int probe = 0; probe < Palette.Length && taken[slot]; probe++)
            {
                slot = (slot + 1) % Palette.Length;
            }

            // More nodes than colors: the rest share their preferred color.
            slot = taken[slot] ? Preferred(id) : slot;
            taken[slot] = true;
            colors[id] = Palette[slot];
        }

        return colors;
    }

    /// <summary>The palette slot an id asks for (Fibonacci hashing of its 64 bits).</summary>
    internal static int Preferred(string id)
    {
        ulong value = ulong.TryParse(id, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong parsed)
            ? parsed
            : (ulong)System.IO.Hashing.XxHash3.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(id));
        return (int)(((value * 0x9E3779B97F4A7C15UL) >> 32) % (ulong)Palette.Length);
    }
}
