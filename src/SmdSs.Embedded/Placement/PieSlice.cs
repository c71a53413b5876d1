using System.Collections.Immutable;
using SmdSs.Membership;

namespace SmdSs.Placement;

/// <summary>
/// One slice of the pie: a hash range, the epoch of its record and its ordered replica list
/// (primary first, at most ReplicationFactor distinct nodes). Only the primary writes a new
/// record for its slice, with <see cref="Epoch"/> + 1; records merge by the higher epoch.
/// </summary>
internal sealed record PieSlice(SliceRange Range, long Epoch, ImmutableArray<NodeId> Replicas)
{
    public NodeId? Primary => Replicas.IsDefaultOrEmpty ? null : Replicas[0];

    public bool IsHeldBy(NodeId node) => !Replicas.IsDefaultOrEmpty && Replicas.Contains(node);
}
