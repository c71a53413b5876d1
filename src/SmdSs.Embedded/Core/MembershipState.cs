using SmdSs.Membership;
using SmdSs.Model;
using SmdSs.Replication;

namespace SmdSs.Core;

/// <summary>
/// One node's membership: its own record and its node map. Records from peers are checked
/// against <see cref="PeerClaims"/>' bounds (a message with one out of bounds is refused whole),
/// a stale copy of a node this map forgot is not taken back, the map never holds more than its
/// cap, and a rumour that this node is suspect or down is refuted with a higher incarnation.
/// Single-threaded and pure, like <see cref="SliceAuthority"/>: the host calls it under its
/// state lock, passes the wall clock in, and carries out what it returns (persist, log, forget
/// connections); <see cref="Self"/> and <see cref="Nodes"/> are immutable snapshots any thread may read.
/// </summary>
internal sealed class MembershipState
{
    private readonly TimeSpan _retention;
    private readonly int _maxNodes;

    public MembershipState(NodeRecord self, NodeMap saved, TimeSpan retention, int maxNodes)
    {
        _retention = retention;
        _maxNodes = maxNodes;
        _self = self;
        _nodes = saved.With(self);
    }

    // Volatile: read lock-free by request threads.
    private volatile NodeRecord _self;
    private volatile NodeMap _nodes;

    public NodeRecord Self { get => _self; private set => _self = value; }

    public NodeMap Nodes { get => _nodes; private set => _nodes = value; }

    /// <summary>Takes node records from a peer (or this node's own verdicts on its peers).</summary>
    /// <param name="records">The records the peer sent.</param>
    /// <param name="slices">This node's slice map: a node a slice names is never forgotten nor given up for room.</param>
    /// <param name="wallNowMs">The wall clock (Unix ms).</param>
    /// <param name="mayRefute">False while this node stops or leaves for good.</param>
    public MembershipChange Merge(IReadOnlyCollection<NodeRecord> records, SliceMap slices, long wallNowMs, bool mayRefute)
    {
        if (Refusal(records, wallNowMs) is { } reason)
        {
            return MembershipChange.Refused(reason);
        }

        NodeMap before = Nodes;
        List<NodeRecord> admissible = Admissible(records, slices, wallNowMs, out List<NodeRecord> evicted, out int leftOut);
        Nodes = NodeMapMerge.Merge(Nodes, Self, admissible, records, mayRefute, out NodeRecord self, out List<NodeRecord> changed);
        Self = self;
        return new MembershipChange(null, !ReferenceEquals(before, Nodes), changed, evicted, leftOut);
    }

    /// <summary>
    /// Why these records are refused (one out of <see cref="PeerClaims"/>' bounds against the
    /// record held), or null. Reads only the snapshots: a host may ask before it takes its lock,
    /// to refuse a whole message before any part of it is merged.
    /// </summary>
    public string? Refusal(IEnumerable<NodeRecord> records, long wallNowMs)
    {
        NodeRecord self = Self;
        NodeMap nodes = Nodes;
        foreach (NodeRecord record in records)
        {
            if (PeerClaims.RefuseNode(record, record.Id == self.Id ? self : nodes.Find(record.Id), wallNowMs) is { } reason)
            {
                return reason;
            }
        }

        return null;
    }

    /// <summary>This node's own state changes (leaving, stopping, back up after a decommission was given up).</summary>
    public NodeRecord SetSelfState(NodeState state, long wallNowMs, bool bumpIncarnation)
    {
        Self = Self.InState(state, wallNowMs) with { Incarnation = Self.Incarnation + (bumpIncarnation ? 1 : 0), Heartbeat = Self.Heartbeat + 1 };
        Nodes = Nodes.With(Self);
        return Self;
    }

    /// <summary>Forgets the nodes gone longer than the retention that no slice record names; returns their records.</summary>
    public List<NodeRecord> ForgetExpired(SliceMap slices, long wallNowMs)
    {
        List<NodeId> expired = NodeRetention.Expired(Nodes, Self.Id, slices.NamedNodes(), wallNowMs, _retention);
        if (expired.Count == 0)
        {
            return [];
        }

        List<NodeRecord> forgotten = [.. expired.Select(id => Nodes.Find(id)!)];
        Nodes = Nodes.Without(expired);
        return forgotten;
    }

    /// <summary>Is some node of the map gone longer than the retention (a cheap test before <see cref="ForgetExpired"/>)?</summary>
    public bool AnyExpired(long wallNowMs) => Nodes.Nodes.Any(n => NodeRetention.IsExpired(n, wallNowMs, _retention));

    // The records this map takes: none of this node; no stale copy of a node it forgot (from a
    // peer that was away); past the cap, room made by giving up the earliest-gone nodes that no
    // slice names and this message brings no news of, and the rest of the new ones left out.
    private List<NodeRecord> Admissible(IReadOnlyCollection<NodeRecord> records, SliceMap slices, long wallNowMs, out List<NodeRecord> evicted, out int leftOut)
    {
        evicted = [];
        leftOut = 0;
        HashSet<NodeId>? named = null;
        var admissible = new List<NodeRecord>(records.Count);
        var fresh = new HashSet<NodeId>();
        foreach (NodeRecord record in records)
        {
            if (record.Id == Self.Id)
            {
                continue;
            }

            bool held = Nodes.Find(record.Id) is not null;
            if (!held && NodeRetention.IsExpired(record, wallNowMs, _retention) && !(named ??= slices.NamedNodes()).Contains(record.Id))
            {
                continue;
            }

            if (!held)
            {
                fresh.Add(record.Id);
            }

            admissible.Add(record);
        }

        if (Nodes.Count + fresh.Count <= _maxNodes)
        {
            return admissible;
        }

        var keep = new HashSet<NodeId>(named ?? slices.NamedNodes());
        keep.UnionWith(records.Select(r => r.Id));
        int room = NodeRetention.MakeRoom(Nodes, Self.Id, keep, fresh.Count, _maxNodes, out List<NodeId> evict);
        evicted = [.. evict.Select(id => Nodes.Find(id)!)];
        Nodes = Nodes.Without(evict);
        leftOut = fresh.Count - room;
        HashSet<NodeId> admitted = [.. fresh.Take(room)];
        return [.. admissible.Where(r => Nodes.Find(r.Id) is not null || admitted.Contains(r.Id))];
    }
}

/// <summary>
/// What a merge did: refused (why; nothing taken), or the records taken, the nodes given up to
/// make room and how many new ones were left out for want of it (the cap reached when either is
/// not zero), and whether the map changed at all.
/// </summary>
internal sealed record MembershipChange(string? Refusal, bool MapChanged, List<NodeRecord> Changed, List<NodeRecord> Evicted, int LeftOut)
{
    public static MembershipChange Refused(string reason) => new(reason, false, [], [], 0);

    public bool CapReached => Evicted.Count > 0 || LeftOut > 0;
}
