using System.Globalization;

namespace SmdSs.Model;

/// <summary>An inclusive range <c>[Start, End]</c> of the 32-bit key-hash space.</summary>
internal readonly record struct SliceRange(uint Start, uint End)
{
    public static readonly SliceRange Whole = new(0, uint.MaxValue);

    /// <summary>Number of hashes in the range; 2^32 for the whole space, so it needs 64 bits.</summary>
    public ulong Width => (ulong)End - Start + 1;

    public bool Contains(uint hash) => hash >= Start && hash <= End;

    /// <summary>Cuts the range into <c>[Start, at - 1]</c> and <c>[at, End]</c>.</summary>
    public (SliceRange Low, SliceRange High) SplitAt(uint at)
    {
        if (at <= Start || at > End)
        {
            throw new ArgumentOutOfRangeException(nameof(at), at, $"A split point must lie in ({Start}, {End}].");
        }

        return (new SliceRange(Start, at - 1), new SliceRange(at, End));
    }

    /// <summary>The first hash of the upper half when the range is cut in two equal halves.</summary>
    public uint Midpoint => (uint)(Start + (Width / 2));

    /// <summary>
    /// The ranges that cutting this range in halves, again and again, down to <paramref name="inner"/>
    /// leaves beside it (largest first), or null when <paramref name="inner"/> is not such a half
    /// of a half (another layout's range, or not inside this one).
    /// </summary>
    public List<SliceRange>? HalvingsDownTo(SliceRange inner)
    {
        var beside = new List<SliceRange>();
        SliceRange range = this;
        while (range != inner)
        {
            if (range.Width < 2 || !range.Contains(inner.Start) || !range.Contains(inner.End))
            {
                return null;
            }

            (SliceRange low, SliceRange high) = range.SplitAt(range.Midpoint);
            bool inLow = low.Contains(inner.End);
            beside.Add(inLow ? high : low);
            range = inLow ? low : high;
        }

        return beside;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Start:x8}-{End:x8}");
}
