using SmdSs.Model;
using SmdSs.Placement;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>
/// One node's placement host, as <c>SmdSsNode.Placement</c> runs it, in virtual time: rounds of
/// <see cref="PlacementRound"/> (repairs committed, then steps committed, then catch-ups
/// started), commits that wait out the read leases of replicas they drop and are refused when
/// the record they were based on changed, catch-ups committed by the primary when they end,
/// records pushed to their replicas and gossiped.
/// </summary>
internal sealed class SimPlacementNode(PlacementSimulation sim, NodeId id)
{
    private NodeMap _members = NodeMap.Empty;
    private readonly Dictionary<uint, long> _primarySinceMs = [];
    private readonly HashSet<(uint Start, NodeId Replica)> _catchUps = [];
    private bool _inRound;
    private bool _roundPending;
    private string? _quietInputs;

    public NodeId Id => id;

    public SliceMap View { get; private set; } = null!;

    public bool Running { get; private set; }

    public long Incarnation { get; private set; }

    public long StoppedAtMs { get; private set; }

    public void Start(SliceMap view)
    {
        View = view;
        Running = true;
        Incarnation++;
        _catchUps.Clear();
        _quietInputs = null;
        _inRound = false;
        _roundPending = false;
        _primarySinceMs.Clear();
        foreach (PieSlice slice in view.Slices.Where(s => s.Primary == Id))
        {
            _primarySinceMs[slice.Range.Start] = sim.NowMs;
        }

        long incarnation = Incarnation;
        sim.After(sim.Random.Next(1, PlacementSimulation.RoundMs), () => Tick(incarnation));
        sim.After(sim.Random.Next(1, PlacementSimulation.GossipMs), () => Gossip(incarnation));
    }

    public void Stop()
    {
        Running = false;
        StoppedAtMs = sim.NowMs;
    }

    /// <summary>News of a node: its record, merged as node maps merge (a higher incarnation wins; at the same one, Down over Up).</summary>
    public void Learn(NodeRecord record)
    {
        if (record.Id != Id)
        {
            _members = _members.Merge([record], out _);
        }
    }

    /// <summary>Takes every record that supersedes the one held (a push or a gossip exchange).</summary>
    public void Merge(IEnumerable<PieSlice> records)
    {
        SliceMap merged = View.Merge(records, out List<PieSlice> changed, out _);
        foreach (PieSlice record in changed)
        {
            NoteRecordChange(View.Find(record.Range.Start), record);
        }

        View = merged;
    }

    private bool IsUp(NodeId node) => node == Id || _members.Find(node)?.State == NodeState.Up;

    private bool Alive(long incarnation) => Running && Incarnation == incarnation;

    private void Tick(long incarnation)
    {
        if (!Alive(incarnation))
        {
            return;
        }

        sim.After(PlacementSimulation.RoundMs, () => Tick(incarnation));
        if (_inRound)
        {
            _roundPending = true;
            return;
        }

        RunRound(incarnation);
    }

    private void RunRound(long incarnation)
    {
        _inRound = true;
        CommitAll(PlacementRound.Repairs(View, Id, IsUp, IsUp), incarnation, () =>
        {
            CommitAll(Steps(), incarnation, () =>
            {
                StartCatchUps(incarnation);
                _inRound = false;
                if (_roundPending)
                {
                    _roundPending = false;
                    RunRound(incarnation);
                }
            });
        });
    }

    // Steps are a pure function of the maps and of which nodes are keepable: a round with the
    // same inputs as the last quiet one is quiet too, and is not planned again (speed only).
    private List<SliceChange> Steps()
    {
        NodeMap nodes = _members.With(PlacementSimulation.Record(Id, NodeState.Up, Incarnation, 0));
        var grace = TimeSpan.FromMilliseconds(PlacementSimulation.GraceMs);
        string inputs = $"{View.Digest}/{nodes.Digest}/{string.Join(",", nodes.Nodes.Where(n => PlacementRound.IsKeepable(n, sim.NowMs, grace)).Select(n => n.Id))}";
        if (inputs == _quietInputs)
        {
            return [];
        }

        List<SliceChange> steps = PlacementRound.Steps(View, nodes, Id, sim.NowMs, grace, sim.ReplicationFactor);
        _quietInputs = steps.Count == 0 ? inputs : null;
        return steps;
    }

    private void CommitAll(List<SliceChange> changes, long incarnation, Action then)
    {
        int pending = changes.Count;
        if (pending == 0)
        {
            then();
            return;
        }

        foreach (SliceChange change in changes)
        {
            Commit(change, incarnation, () =>
            {
                if (--pending == 0)
                {
                    then();
                }
            });
        }
    }

    // As CommitSliceAsync: a replica leaving the in-sync set is dropped only once the lease this
    // node granted it ran out (and a lease's length after this node became primary).
    private void Commit(SliceChange change, long incarnation, Action done)
    {
        uint start = change.BasedOn.Range.Start;
        long waitUntil = sim.NowMs;
        foreach (NodeId replica in change.BasedOn.InSync.Where(n => n != Id && !change.Next.IsInSync(n)))
        {
            waitUntil = Math.Max(waitUntil, Math.Max(LeaseEnd(replica), _primarySinceMs.GetValueOrDefault(start, long.MinValue / 2) + PlacementSimulation.LeaseMs));
        }

        sim.WorkInFlight++;
        sim.At(waitUntil, () =>
        {
            sim.WorkInFlight--;
            if (!Alive(incarnation))
            {
                return;
            }

            PieSlice current = View.Find(start);
            if (current.ContentEquals(change.BasedOn) && change.Next.Supersedes(current))
            {
                View = View.With(change.Next);
                NoteRecordChange(current, change.Next);
                sim.Committed(this, change);
                Push(change.Next);
            }

            done();
        });
    }

    // A replica that asks every 500 ms holds a lease up to 2 s from its last ask; a dead one from its last ask before it died.
    private long LeaseEnd(NodeId replica)
    {
        SimPlacementNode? node = sim.Find(replica);
        long lastAsk = node is { Running: true } ? sim.NowMs : node?.StoppedAtMs ?? 0;
        return lastAsk - sim.Random.Next(PlacementSimulation.RoundMs) + PlacementSimulation.LeaseMs;
    }

    private void NoteRecordChange(PieSlice before, PieSlice after)
    {
        if (after.Primary == Id && before.Primary != Id)
        {
            _primarySinceMs[after.Range.Start] = sim.NowMs;
        }
    }

    private void Push(PieSlice record)
    {
        foreach (NodeId replica in record.Replicas.Where(n => n != Id && IsUp(n)))
        {
            if (sim.Find(replica) is { } node)
            {
                sim.Send(node, n => n.Merge([record]));
            }
        }
    }

    private void StartCatchUps(long incarnation)
    {
        foreach (PieSlice slice in View.Slices.Where(s => s.Primary == Id))
        {
            foreach (NodeId replica in slice.Replicas.Where(n => n != Id && !slice.IsInSync(n) && IsUp(n)))
            {
                uint start = slice.Range.Start;
                if (!_catchUps.Add((start, replica)))
                {
                    continue;
                }

                if (sim.Find(replica) is { } node)
                {
                    sim.Send(node, n => n.Merge([slice]));
                }

                sim.WorkInFlight++;
                sim.After(sim.Random.Next(50, 1_500), () =>
                {
                    sim.WorkInFlight--;
                    CaughtUp(start, replica, incarnation);
                });
            }
        }
    }

    private void CaughtUp(uint start, NodeId replica, long incarnation)
    {
        if (!Alive(incarnation))
        {
            return;
        }

        PieSlice current = View.Find(start);
        if (sim.Find(replica) is not { Running: true } || current.Primary != Id || !current.IsHeldBy(replica) || current.IsInSync(replica))
        {
            _catchUps.Remove((start, replica));
            return;
        }

        Commit(new SliceChange(current, current.Next(current.Replicas, [.. current.InSync, replica]), "replica caught up"), incarnation, () => _catchUps.Remove((start, replica)));
    }

    private void Gossip(long incarnation)
    {
        if (!Alive(incarnation))
        {
            return;
        }

        sim.After(PlacementSimulation.GossipMs, () => Gossip(incarnation));
        List<NodeId> peers = [.. _members.Nodes.Where(n => n.State == NodeState.Up).Select(n => n.Id)];
        if (peers.Count == 0 || sim.Find(peers[sim.Random.Next(peers.Count)]) is not { } peer)
        {
            return;
        }

        // A digest exchange that differs ends with both sides holding the newer of each record.
        SliceMap mine = View;
        sim.Send(peer, p =>
        {
            SliceMap theirs = p.View;
            if (theirs.Digest == mine.Digest)
            {
                return;
            }

            p.Merge(mine.Slices);
            sim.Send(this, n => n.Merge(theirs.Slices));
        });
    }
}
