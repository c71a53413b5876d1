using System.Globalization;

namespace SmdSs.AspNetCore.Dashboard;

/// <summary>
/// A node's color on the dashboard, derived from its id so that it is the same on every node,
/// every refresh and every screenshot. Ids are random 64-bit numbers: the multiplicative hash
/// picks one of 6 lead colors, far apart (blue, orange, red, teal, green, yellow). When two nodes
/// of one map pick the same color, the higher id takes the next free lead color, and past 6
/// nodes one of 6 more: a farm of up to 6 never shows two nodes alike or alike-looking, and one
/// of up to 12 never shows two the same.
/// </summary>
internal static class NodeColors
{
    private const int Leads = 6;

    // Tableau 10's first six, then six more; each readable on white. Gray is kept for "unknown".
    private static readonly string[] Palette =
    [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
        "#b07aa1", "#ff9da7", "#9c755f", "#2f4b7c", "#8cd17d", "#d37295",
    ];

    /// <summary>The color of each id (16 hex digits), collisions resolved in id order.</summary>
    public static Dictionary<string, string> Assign(IEnumerable<string> ids)
    {
        var colors = new Dictionary<string, string>(StringComparer.Ordinal);
        var taken = new bool[Palette.Length];
        foreach (string id in ids.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            int preferred = Preferred(id);

            // The lead colors from the preferred one on, then the others in the same order;
            // more nodes than colors: the rest share their preferred color.
            int slot = Enumerable.Range(0, Palette.Length)
                .Select(probe => (probe / Leads * Leads) + ((preferred + probe) % Leads))
                .FirstOrDefault(s => !taken[s], preferred);
            taken[slot] = true;
            colors[id] = Palette[slot];
        }

        return colors;
    }

    /// <summary>The lead color an id asks for (Fibonacci hashing of its 64 bits).</summary>
    internal static int Preferred(string id)
    {
        ulong value = ulong.TryParse(id, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong parsed)
            ? parsed
            : (ulong)System.IO.Hashing.XxHash3.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(id));
        return (int)(((value * 0x9E3779B97F4A7C15UL) >> 32) % Leads);
    }
}
