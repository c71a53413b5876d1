using System.Collections.Immutable;

namespace SmdSs.Model;

/// <summary>
/// One slice of the pie: a hash range, the epoch of its record, its ordered replica list
/// (primary first, distinct nodes) and the in-sync subset: the replicas that hold every
/// acknowledged write and so may serve reads. Only the primary writes a new record for its
/// slice, with <see cref="Epoch"/> + 1; records merge by the higher epoch.
/// <see cref="Hints"/>: for listed replicas not in sync whose copy was complete until then, the
/// oldest version each may lack (hinted handoff: such a replica is sent only what changed
/// since). Part of the record, so any later primary — and a restart — still knows it.
/// </summary>
internal sealed record PieSlice(SliceRange Range, long Epoch, ImmutableArray<NodeId> Replicas, ImmutableArray<NodeId> InSync, ImmutableArray<ReplicaHint> Hints = default)
{
    public PieSlice(SliceRange range, long epoch, ImmutableArray<NodeId> replicas)
        : this(range, epoch, replicas, replicas)
    {
    }

    public NodeId? Primary => Replicas.IsDefaultOrEmpty ? null : Replicas[0];

    public bool IsHeldBy(NodeId node) => !Replicas.IsDefaultOrEmpty && Replicas.Contains(node);

    public bool IsInSync(NodeId node) => !InSync.IsDefaultOrEmpty && InSync.Contains(node);

    /// <summary>The version from which <paramref name="replica"/> may lack writes, when its copy is otherwise complete.</summary>
    public long? HintFor(NodeId replica) =>
        Hints.IsDefaultOrEmpty ? null : Hints.Where(h => h.Replica == replica).Select(h => (long?)h.Since).FirstOrDefault();

    /// <summary>The same record with hints for these replicas (the oldest version wins).</summary>
    public PieSlice WithHints(IEnumerable<ReplicaHint> hints)
    {
        var merged = (Hints.IsDefault ? [] : Hints).Concat(hints)
            .Where(h => IsHeldBy(h.Replica) && !IsInSync(h.Replica))
            .GroupBy(h => h.Replica)
            .Select(g => new ReplicaHint(g.Key, g.Min(h => h.Since)))
            .OrderBy(h => h.Replica)
            .ToImmutableArray();
        return this with { Hints = merged };
    }

    /// <summary>
    /// True when this record wins over <paramref name="other"/> (same range): the higher epoch;
    /// at equal epochs (two writers raced during a failover) the lower primary id, then the
    /// longer in-sync list, so that every node picks the same record.
    /// </summary>
    public bool Supersedes(PieSlice other)
    {
        if (Epoch != other.Epoch)
        {
            return Epoch > other.Epoch;
        }

        if (Primary != other.Primary)
        {
            return (Primary?.Value ?? ulong.MaxValue) < (other.Primary?.Value ?? ulong.MaxValue);
        }

        if (!Replicas.AsSpan().SequenceEqual(other.Replicas.AsSpan()))
        {
            return Compare(Replicas, other.Replicas) < 0;
        }

        if (!InSync.AsSpan().SequenceEqual(other.InSync.AsSpan()))
        {
            return Compare(InSync, other.InSync) < 0;
        }

        // Only hints differ: the older hints win (they send more, never less).
        long mine = Hints.IsDefaultOrEmpty ? long.MaxValue : Hints.Min(h => h.Since);
        long theirs = other.Hints.IsDefaultOrEmpty ? long.MaxValue : other.Hints.Min(h => h.Since);
        return mine < theirs;
    }

    /// <summary>A new record from the primary: next epoch, the given replicas and in-sync set; hints of replicas still behind carry over.</summary>
    public PieSlice Next(IEnumerable<NodeId> replicas, IEnumerable<NodeId> inSync)
    {
        ImmutableArray<NodeId> list = [.. replicas.Distinct()];
        return new PieSlice(Range, Epoch + 1, list, [.. inSync.Distinct().Where(list.Contains)]).WithHints(Hints.IsDefault ? [] : Hints);
    }

    public bool ContentEquals(PieSlice other) =>
        Range == other.Range && Epoch == other.Epoch && Replicas.SequenceEqual(other.Replicas) && InSync.SequenceEqual(other.InSync)
        && (Hints.IsDefault ? [] : Hints).SequenceEqual(other.Hints.IsDefault ? [] : other.Hints);

    private static int Compare(ImmutableArray<NodeId> a, ImmutableArray<NodeId> b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            int c = a[i].CompareTo(b[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return b.Length.CompareTo(a.Length);
    }
}
