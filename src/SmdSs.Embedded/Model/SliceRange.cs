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

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Start:x8}-{End:x8}");
}
