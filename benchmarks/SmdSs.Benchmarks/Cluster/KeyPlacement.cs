using System.Globalization;
using System.IO.Hashing;
using System.Text;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// Where the cluster keeps a key, worked out from a node's status as any client could: the key's
/// hash is XxHash32 (seed 0) of its UTF-8 bytes, and its slice is the one whose [start, end]
/// range holds the hash. A key is "held locally" when the node is in the slice's in-sync set
/// (it may answer reads from its own copy), "held elsewhere" otherwise.
/// </summary>
internal sealed class KeyPlacement
{
    private readonly SmdSsSliceStatus[] _slices;
    private readonly string _self;

    public KeyPlacement(SmdSsStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        _slices = [.. status.Slices.OrderBy(s => s.Start)];
        _self = status.NodeId;
        if (_slices.Length == 0 || _slices[0].Start != 0 || _slices[^1].End != uint.MaxValue)
        {
            throw new InvalidOperationException("The slice map does not cover the hash space.");
        }
    }

    /// <summary>Slices this node holds in sync.</summary>
    public int SlicesHeld => _slices.Count(s => s.InSync.Contains(_self));

    /// <summary>Slices this node is the primary of.</summary>
    public int SlicesPrimary => _slices.Count(s => s.Replicas.Count > 0 && s.Replicas[0] == _self);

    public int SliceCount => _slices.Length;

    /// <summary>The fraction of the hash space this node holds in sync.</summary>
    public double ShareHeld => _slices.Where(s => s.InSync.Contains(_self)).Sum(s => (s.End - (double)s.Start) + 1) / (uint.MaxValue + 1.0);

    public static uint HashOf(string key) => XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(key));

    public SmdSsSliceStatus SliceOf(string key)
    {
        uint hash = HashOf(key);
        int low = 0;
        int high = _slices.Length - 1;
        while (low < high)
        {
            // The last slice whose start is at or below the hash.
            int middle = (low + high + 1) / 2;
            if (_slices[middle].Start <= hash)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        SmdSsSliceStatus slice = _slices[low];
        return hash <= slice.End ? slice : throw new InvalidOperationException($"No slice holds hash {hash:x8}.");
    }

    public bool IsHeldLocally(string key) => SliceOf(key).InSync.Contains(_self);

    public bool IsPrimaryHere(string key) => SliceOf(key).Replicas[0] == _self;

    /// <summary>
    /// The first <paramref name="count"/> keys <c>bench:{prefix}:{i}</c> held locally and the first
    /// <paramref name="count"/> held elsewhere.
    /// </summary>
    public (KeySet Local, KeySet Remote) SplitByHolder(string prefix, int count)
    {
        if (SlicesHeld == 0 || SlicesHeld == _slices.Length)
        {
            throw new InvalidOperationException($"The node holds {SlicesHeld} of {_slices.Length} slices: no keys on both sides.");
        }

        return Split(prefix, count, IsHeldLocally);
    }

    /// <summary>
    /// The first <paramref name="count"/> keys <c>bench:{prefix}:{i}</c> whose primary is this node
    /// and the first <paramref name="count"/> whose primary is another.
    /// </summary>
    public (KeySet Here, KeySet Elsewhere) SplitByPrimary(string prefix, int count)
    {
        if (SlicesPrimary == 0 || SlicesPrimary == _slices.Length)
        {
            throw new InvalidOperationException($"The node is primary of {SlicesPrimary} of {_slices.Length} slices: no keys on both sides.");
        }

        return Split(prefix, count, IsPrimaryHere);
    }

    private static (KeySet Yes, KeySet No) Split(string prefix, int count, Func<string, bool> test)
    {
        var yes = new List<string>(count);
        var no = new List<string>(count);
        for (int i = 0; yes.Count < count || no.Count < count; i++)
        {
            string key = string.Create(CultureInfo.InvariantCulture, $"bench:{prefix}:{i:D7}");
            List<string> side = test(key) ? yes : no;
            if (side.Count < count)
            {
                side.Add(key);
            }
        }

        return (new KeySet(yes), new KeySet(no));
    }
}
