using System.Globalization;

namespace SmdSs.Model;

/// <summary>A node's stable identity: 64 random bits, created once and kept in its data directory.</summary>
internal readonly record struct NodeId(ulong Value) : IComparable<NodeId>
{
    public static NodeId NewRandom(Random random)
    {
        ulong value;
        do
        {
            value = (ulong)random.NextInt64() ^ ((ulong)random.Next() << 63);
        }
        while (value == 0);
        return new NodeId(value);
    }

    public static NodeId Parse(string text) => new(ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture));

    public int CompareTo(NodeId other) => Value.CompareTo(other.Value);

    public override string ToString() => Value.ToString("x16", CultureInfo.InvariantCulture);
}
