using System.Collections.Immutable;

namespace SmdSs.Model;

/// <summary>
/// The pie-slice map: every slice sorted by <see cref="SliceRange.Start"/>, covering
/// 0..0xFFFFFFFF exactly once (invariant 1, coverage). Immutable: a change returns a new map,
/// which the node swaps in atomically so that request paths read it without a lock.
/// </summary>
internal sealed class SliceMap
{
    private readonly ImmutableArray<PieSlice> _slices;
    private readonly uint[] _starts;

    private SliceMap(ImmutableArray<PieSlice> slices)
    {
        string? error = FindCoverageError(slices);
        if (error is not null)
        {
            throw new InvalidOperationException("Slice map violates coverage: " + error);
        }

        _slices = slices;
        _starts = [.. slices.Select(s => s.Range.Start)];
        Digest = MapDigest.Of(slices);
    }

    /// <summary>XxHash128 of every record in range order: equal digests mean equal maps.</summary>
    public UInt128 Digest { get; }

    public ImmutableArray<PieSlice> Slices => _slices;

    public int Count => _slices.Length;

    /// <summary>Cuts the space into <paramref name="count"/> slices of equal width (the last takes the remainder).</summary>
    public static SliceMap CreateInitial(int count, ImmutableArray<NodeId> replicas)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ulong width = SliceRange.Whole.Width / (ulong)count;
        var builder = ImmutableArray.CreateBuilder<PieSlice>(count);
        for (int i = 0; i < count; i++)
        {
            uint start = (uint)(width * (ulong)i);
            uint end = i == count - 1 ? uint.MaxValue : (uint)((width * (ulong)(i + 1)) - 1);
            builder.Add(new PieSlice(new SliceRange(start, end), 1, replicas));
        }

        return new SliceMap(builder.MoveToImmutable());
    }

    public static SliceMap FromSlices(IEnumerable<PieSlice> slices) =>
        new([.. slices.OrderBy(s => s.Range.Start)]);

    /// <summary>Every node a slice record names: replicas, in-sync replicas, hinted ones.</summary>
    public HashSet<NodeId> NamedNodes()
    {
        var named = new HashSet<NodeId>();
        foreach (PieSlice slice in _slices)
        {
            named.UnionWith(slice.Replicas.IsDefault ? [] : slice.Replicas);
            named.UnionWith(slice.InSync.IsDefault ? [] : slice.InSync);
            named.UnionWith(slice.Hints.IsDefault ? [] : slice.Hints.Select(h => h.Replica));
        }

        return named;
    }

    /// <summary>The index of the one slice whose range holds <paramref name="hash"/> (binary search).</summary>
    public int IndexOf(uint hash) => RangeSearch.IndexOf(_starts, hash);

    public PieSlice Find(uint hash) => _slices[IndexOf(hash)];

    /// <summary>Splits the slice holding <paramref name="at"/> at that hash; both halves get the next epoch.</summary>
    public SliceMap Split(uint at)
    {
        int index = IndexOf(at);
        PieSlice slice = _slices[index];
        (SliceRange low, SliceRange high) = slice.Range.SplitAt(at);
        long epoch = slice.Epoch + 1;
        var builder = _slices.ToBuilder();
        builder[index] = slice with { Range = low, Epoch = epoch };
        builder.Insert(index + 1, slice with { Range = high, Epoch = epoch });
        return new SliceMap(builder.ToImmutable());
    }

    /// <summary>
    /// Takes every record that supersedes the one held for the same range. Ranges only ever get
    /// cut (a split halves a slice at its middle), so a record's range either lies inside one held
    /// slice or covers several whole ones:
    /// <list type="bullet">
    /// <item>Inside one held slice and a half of a half of it, the held slice is cut in halves down
    /// to the record's range (the halves beside it keep the held record) and the piece takes the
    /// record if it supersedes it. A newer record there is
    /// a half of a split, carved in (the rest keeps its old record until the other half arrives).
    /// One not newer means this map's record went on without that split (its primary split it
    /// while cut off and the others took the whole slice over): the split stays, and each piece
    /// keeps the newer record, so that all maps meet at the finer layout.</item>
    /// <item>Covering several held slices, each of them takes the record's piece of its range if
    /// that piece supersedes it: a stale parent of slices split here changes nothing, and the
    /// record of a whole slice taken over replaces the older halves of a split it did not know.</item>
    /// </list>
    /// A record whose bounds no halving of the held slices gives (another initial layout) is left out and listed in <paramref name="unknown"/>.
    /// <paramref name="changed"/> lists every record the map took and every piece it cut from a held one.
    /// Halvings are of the farm's initial slices, <paramref name="initialLayout"/> (<c>InitialSliceCount</c>):
    /// a held slice need not be one (a build before this one cut held slices at a record's exact
    /// bounds), so the halves beside a record are cut out of its initial slice and clipped to the
    /// held one. Without it, the held slice is taken for a halving itself.
    /// </summary>
    public SliceMap Merge(IEnumerable<PieSlice> records, out List<PieSlice> changed, out List<PieSlice> unknown, SliceMap? initialLayout = null)
    {
        changed = [];
        unknown = [];
        var work = new List<PieSlice>(_slices);
        foreach (PieSlice record in records)
        {
            int first = IndexIn(work, record.Range.Start);
            int last = IndexIn(work, record.Range.End);
            PieSlice held = work[first];
            if (first == last && held.Range != record.Range)
            {
                // The initial slice if it holds the held one (else a layout this map was not made in: the held slice itself).
                SliceRange root = initialLayout?.Find(record.Range.Start).Range is { } initial && initial.Contains(held.Range.Start) && initial.Contains(held.Range.End)
                    ? initial
                    : held.Range;
                if ((root.HalvingsDownTo(record.Range) ?? held.Range.HalvingsDownTo(record.Range)) is not { } beside)
                {
                    unknown.Add(record);
                    continue;
                }

                PieSlice piece = held with { Range = record.Range };
                List<PieSlice> pieces = [record.Supersedes(piece) ? record : piece, .. beside.Select(range => Clip(range, held.Range)).OfType<SliceRange>().Select(range => held with { Range = range })];
                pieces.Sort((a, b) => a.Range.Start.CompareTo(b.Range.Start));
                work.RemoveAt(first);
                work.InsertRange(first, pieces);
                // The rest of the held slice is a change too: slices of their own from now on.
                changed.AddRange(pieces);
                continue;
            }

            if (record.Range.Start != held.Range.Start || record.Range.End != work[last].Range.End)
            {
                unknown.Add(record);
                continue;
            }

            for (int i = first; i <= last; i++)
            {
                PieSlice piece = first == last ? record : record with { Range = work[i].Range };
                if (piece.Supersedes(work[i]))
                {
                    work[i] = piece;
                    changed.Add(piece);
                }
            }
        }

        return changed.Count == 0 ? this : new SliceMap([.. work]);
    }

    // The part of range inside within, if any.
    private static SliceRange? Clip(SliceRange range, SliceRange within) =>
        range.End < within.Start || range.Start > within.End ? null : new SliceRange(Math.Max(range.Start, within.Start), Math.Min(range.End, within.End));

    // The last slice starting at or before the hash (the list is sorted and covers the space).
    private static int IndexIn(List<PieSlice> slices, uint hash)
    {
        int low = 0;
        int high = slices.Count - 1;
        while (low < high)
        {
            int middle = (low + high + 1) / 2;
            if (slices[middle].Range.Start <= hash)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return low;
    }

    /// <summary>Replaces the record of one range unconditionally (the primary's own change).</summary>
    public SliceMap With(PieSlice record)
    {
        int index = IndexOf(record.Range.Start);
        if (_slices[index].Range != record.Range)
        {
            throw new ArgumentException($"No slice {record.Range} in this map.", nameof(record));
        }

        return new SliceMap(_slices.SetItem(index, record));
    }

    /// <summary>Null when the slices cover 0..0xFFFFFFFF with no gap and no overlap; else what is wrong.</summary>
    public static string? FindCoverageError(IReadOnlyList<PieSlice> slices)
    {
        if (slices.Count == 0)
        {
            return "no slices";
        }

        if (slices[0].Range.Start != 0)
        {
            return $"gap before {slices[0].Range}";
        }

        for (int i = 0; i < slices.Count; i++)
        {
            SliceRange range = slices[i].Range;
            if (range.End < range.Start)
            {
                return $"inverted range {range}";
            }

            if (i + 1 < slices.Count)
            {
                uint nextStart = slices[i + 1].Range.Start;
                if (range.End == uint.MaxValue || nextStart != range.End + 1)
                {
                    return $"gap or overlap between {range} and {slices[i + 1].Range}";
                }
            }
            else if (range.End != uint.MaxValue)
            {
                return $"gap after {range}";
            }
        }

        return null;
    }
}
