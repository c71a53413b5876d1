using System.Collections.Immutable;
using SmdSs.Model;

namespace SmdSs.Placement;

/// <summary>Where one slice should live: its replica set and the node that should be primary.</summary>
internal sealed record PlacementTarget(ImmutableArray<NodeId> Replicas, NodeId Primary);
