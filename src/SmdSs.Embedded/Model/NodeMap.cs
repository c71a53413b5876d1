using System.Collections.Immutable;

namespace SmdSs.Model;

/// <summary>
/// Every node known: a hash table by id for lookups and a sorted tree for the canonical order
/// that the digest is computed in. Immutable; merging returns a new map (or the same one when
/// nothing changed), which the node swaps in atomically.
/// </summary>
internal sealed class NodeMap
{
    public static readonly NodeMap Empty = new(ImmutableSortedDictionary<NodeId, NodeRecord>.Empty);

    private readonly ImmutableSortedDictionary<NodeId, NodeRecord> _sorted;
    private readonly ImmutableDictionary<NodeId, NodeRecord> _byId;

    private NodeMap(ImmutableSortedDictionary<NodeId, NodeRecord> sorted)
    {
        _sorted = sorted;
        _byId = sorted.ToImmutableDictionary();
        Digest = MapDigest.Of(sorted.Values);
    }

    public UInt128 Digest { get; }

    public int Count => _sorted.Count;

    public IEnumerable<NodeRecord> Nodes => _sorted.Values;

    public NodeRecord? Find(NodeId id) => _byId.GetValueOrDefault(id);

    public static NodeMap Of(IEnumerable<NodeRecord> records) => Empty.Merge(records, out _);

    /// <summary>Takes every record that supersedes the one held (or is new). <paramref name="changed"/> lists them.</summary>
    public NodeMap Merge(IEnumerable<NodeRecord> records, out List<NodeRecord> changed)
    {
        changed = [];
        var builder = _sorted.ToBuilder();
        foreach (NodeRecord record in records)
        {
            if (!builder.TryGetValue(record.Id, out NodeRecord? held) || record.Supersedes(held))
            {
                builder[record.Id] = record;
                changed.Add(record);
            }
        }

        return changed.Count == 0 ? this : new NodeMap(builder.ToImmutable());
    }

    /// <summary>Sets a record unconditionally (the node's own record, or a local state change).</summary>
    public NodeMap With(NodeRecord record) => new(_sorted.SetItem(record.Id, record));

    /// <summary>The map without <paramref name="ids"/> (nodes forgotten after their retention).</summary>
    public NodeMap Without(IReadOnlyCollection<NodeId> ids) => ids.Count == 0 ? this : new(_sorted.RemoveRange(ids));

    /// <summary>One small summary per node, for a digest mismatch: what the peer holds, not the records themselves.</summary>
    public IEnumerable<NodeSummary> Summaries => _sorted.Values.Select(r => new NodeSummary(r.Id, r.Incarnation, r.State, r.Heartbeat, r.GoneSinceMs));
}

/// <summary>What a node-map entry's version is, without its body.</summary>
internal readonly record struct NodeSummary(NodeId Id, long Incarnation, NodeState State, long Heartbeat, long GoneSinceMs)
{
    /// <summary>The summary as a record without endpoint or load, for comparing versions.</summary>
    public NodeRecord AsRecord() => new(Id, string.Empty, State, Incarnation, Heartbeat, 0, GoneSinceMs);

    public bool IsOlderThan(NodeRecord record) => record.Supersedes(AsRecord());
}
