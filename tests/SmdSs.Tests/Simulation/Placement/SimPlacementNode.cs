using SmdSs.Core;
using SmdSs.Membership;
using SmdSs.Model;
using SmdSs.Placement;
using SmdSs.Protocol;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>
/// One node's host, as <c>SmdSsNode</c> runs membership and placement, in virtual time, around
/// the real core. Membership: the digest exchange of <see cref="MapSync"/> with a peer every
/// 200 ms (records merged through <see cref="MembershipState"/> and <see cref="SliceAuthority"/>,
/// a suspicion about itself refuted), a probe of every reachable peer every 500 ms (direct, then
/// through two helpers), the real <see cref="FailureDetector"/>'s verdicts, nodes forgotten past
/// the retention; any message counts as contact. Reads: the read quorum (a majority heard within
/// a second; once lapsed, back only after a map exchange) and leases renewed every 500 ms.
/// Placement: rounds of <see cref="PlacementRound"/> once the maps are confirmed (repairs
/// committed, then steps committed, then catch-ups started), commits through the authority that
/// need a majority of the voters (<see cref="Quorum"/>), catch-ups committed by the primary when
/// they end, records pushed to their replicas. Graceful stops as the node says goodbye.
/// </summary>
internal sealed partial class SimPlacementNode(PlacementSimulation sim, NodeId id, long clockOffsetMs)
{
    private const int ProbeMs = 500;
    private const int DirectPingMs = 800;
    // As CommitSliceAsync: how often and how long a hand-over looks for the writes in flight it waits for.
    private const int HandOverPollMs = 50;
    private const int IndirectPingMs = 1_600;
    private const int StartupSyncMs = 3_000;
    private const int ConnectTimeoutMs = 2_000;
    private const int GoodbyeTimeoutMs = 5_000;
    private const int TakeoverPingIntervalMs = 500;
    private const int GossipTimeoutMs = 2_000;

    private readonly HashSet<(uint Start, NodeId Replica)> _catchUps = [];
    private readonly HashSet<NodeId> _probing = [];
    private readonly HashSet<NodeId> _pinging = [];
    private readonly HashSet<NodeId> _hurrying = [];
    // The confirmation under way per slice, by the epoch of the record it sends round.
    private readonly Dictionary<uint, List<Action>> _confirmWaiters = [];
    private const int RenewMs = 500;

    private SliceAuthority _slices = null!;
    private RecordConfirmations _recordConfirmations = null!;
    private FailureDetector _detector = null!;
    private Goodbyes _goodbyes = null!;
    // The node's own rules of contact with a majority: the read quorum and takeovers.
    private MajorityContact _contact = null!;
    private MembershipState _membership = null!;
    private bool _confirmed;
    private bool _goingDown;
    private bool _decommissioned;
    // Restarted after a power loss: the slices whose copies it held in sync then, which may lack
    // acknowledged writes their other replicas hold, until it is out of their in-sync sets.
    private List<SliceRange> _suspect = [];
    private bool _stepDownInFlight;
    private bool _inRound;
    private bool _roundPending;
    private string? _quietInputs;
    private long _restarts;
    private int _gossipRound;
    private long _downCallUntilMs;

    public NodeId Id => id;

    /// <summary>How far this node's wall clock is off the simulation's time.</summary>
    public long ClockOffsetMs => clockOffsetMs;

    public SliceMap View => _slices.Map;

    public NodeMap Nodes => _membership?.Nodes ?? NodeMap.Empty;

    public bool Running { get; private set; }

    /// <summary>Counts the process's lives: a message sent to an earlier life is lost with its connection.</summary>
    public long Life { get; private set; }


    /// <summary>This node's wall clock: the simulation's time off by this node's own offset.</summary>
    private long WallNowMs => PlacementSimulation.WallEpochMs + sim.NowMs + clockOffsetMs;

    /// <summary>The node this one was told to join through (one of its friends, with the first node).</summary>
    public NodeId? JoinedThrough { get; set; }

    /// <summary>Starts (or restarts) the process on these maps; unless <paramref name="alone"/>, it places slices once one exchange confirmed its maps, or after 3 s.</summary>
    public void Start(SliceMap view, NodeMap nodes, bool alone)
    {
        _restarts++;
        _membership = new MembershipState(new NodeRecord(Id, "sim", NodeState.Up, _restarts << 20, 0, 0), nodes, PlacementSimulation.Retention, SmdSsLimits.MaxNodes);
        // Leases granted before a restart are unknown: every slice it leads counts as newly led.
        _slices = new SliceAuthority(Id, view, PlacementSimulation.LeaseMs, sim.NowMs, sim.InitialLayout);
        _confirmed = alone;
        _goingDown = false;
        _suspect = FilesMayLackWrites ? [.. view.Slices.Where(s => s.IsInSync(Id)).Select(s => s.Range)] : [];

        _stepDownInFlight = false;
        FilesMayLackWrites = false;
        _detector = new FailureDetector(TimeSpan.FromMilliseconds(PlacementSimulation.DetectionMs * 0.4), TimeSpan.FromMilliseconds(PlacementSimulation.DetectionMs));
        _goodbyes = new Goodbyes(_detector);
        _contact = new MajorityContact(Id, _detector, DirectPingMs);
        Running = true;
        Life++;
        _catchUps.Clear();
        _pinging.Clear();
        _hurrying.Clear();
        _recordConfirmations = new RecordConfirmations(Id);
        _confirmWaiters.Clear();
        StartData();
        _probing.Clear();
        _downCallUntilMs = 0;
        _quietInputs = null;
        _inRound = false;
        _roundPending = false;
        long life = Life;
        sim.After(sim.Random.Next(1, PlacementSimulation.RoundMs), () => Tick(life));
        sim.After(sim.Random.Next(1, PlacementSimulation.GossipMs), () => Gossip(life));
        sim.After(sim.Random.Next(1, ProbeMs), () => Probe(life));
        sim.After(sim.Random.Next(1, RenewMs), () => Renew(life));
        sim.After(StartupSyncMs, () =>
        {
            if (Alive(life) && !_confirmed)
            {
                _confirmed = true;
                ConfirmRecords(life);
            }
        });
    }

    /// <summary>The process ends: its peers' connections break (<paramref name="connectionsBreak"/>; not when its machine loses power), or their requests just go unanswered.</summary>
    public void Stop(bool connectionsBreak = true)
    {
        Running = false;
        BreakConnections(connectionsBreak);

        // As node.run: still stepping down, it is suspect at the next start too.
        FilesMayLackWrites |= _suspect.Count > 0;
    }

    /// <summary>Back from a power loss, it has not yet given up every copy it held in sync.</summary>
    public bool SteppingDown => Running && _suspect.Count > 0;

    /// <summary>Set by a power loss: on its next start, the node steps down before it serves.</summary>
    public bool FilesMayLackWrites { get; set; }

    // Serves nothing as a primary or from its own copy: saying goodbye, or stepping down.
    private bool Withdrawn => _goingDown || _suspect.Count > 0;

    /// <summary>
    /// As StepDownAsync, each placement round until done: of the slices whose copies it held in
    /// sync when it lost power, it hands every one it leads to an in-sync serving replica (none:
    /// it keeps it as it is) and gives its leases back to the primaries of the others (each drops
    /// it from the in-sync set); a slice is done once its record has this node out of the in-sync
    /// set (a catch-up then gives it a whole copy). Serves again once every one is done.
    /// </summary>
    private void StepDown(long life)
    {
        if (_stepDownInFlight)
        {
            return;
        }

        // The node's own round.
        StepDownRound round = StepDownRound.Plan(View, _suspect, Id, IsServing);
        _suspect = round.Left;
        if (_suspect.Count == 0)
        {
            sim.Note($"{Id} stepped down after a power loss, serves again");
            return;
        }

        _stepDownInFlight = true;
        CommitAll(round.Handovers, life, () =>
        {
            int waiting = round.Goodbyes.Count;
            foreach ((NodeId primary, List<PieSlice> slices) in round.Goodbyes)
            {
                List<uint> starts = [.. slices.Select(s => s.Range.Start)];
                sim.Send(this, primary, p => p.OnGoodbye(Id, starts, () => sim.Send(p, Id, _ =>
                {
                    if (--waiting == 0 && Alive(life))
                    {
                        _stepDownInFlight = false;
                    }
                })));
            }

            if (waiting == 0)
            {
                _stepDownInFlight = false;
            }
            else
            {
                sim.After(GoodbyeTimeoutMs, () =>
                {
                    if (Alive(life))
                    {
                        _stepDownInFlight = false;
                    }
                });
            }
        });
    }

    /// <summary>
    /// As SayGoodbyeAsync: once its writes in flight ended (or 5 s passed), hands the primary role of every slice it leads to an in-sync serving
    /// replica (committed like any record), gives its read leases back to their primaries (each
    /// drops it from the in-sync set at once), tells every reachable peer it is Down along with
    /// the records it handed over, and stops. Meanwhile it places nothing, grants and renews no
    /// lease, reads nothing locally and lets a rumour of its death stand.
    /// </summary>
    public void SayGoodbye()
    {
        _goingDown = true;
        long life = Life;
        long giveUpAtMs = sim.NowMs + GoodbyeTimeoutMs;
        void WhenWritesEnded()
        {
            if (!Alive(life))
            {
                return;
            }

            if (_writesInFlight > 0 && sim.NowMs < giveUpAtMs)
            {
                sim.After(10, WhenWritesEnded);
                return;
            }

            HandOverAndLeave(life);
        }

        WhenWritesEnded();
    }

    // As SayGoodbyeAsync once the writes in flight ended.
    private void HandOverAndLeave(long life)
    {
        List<SliceChange> handovers = [];
        foreach (PieSlice slice in View.Slices)
        {
            if (SliceMoves.HandOver(slice, Id, IsServing) is { } next)
            {
                handovers.Add(new SliceChange(slice, next, "primary stopping"));
            }
        }

        CommitAll(handovers, life, () =>
        {
            if (!Alive(life))
            {
                return;
            }

            _slices.DropAllHeld();
            // As SendGoodbyeAsync: each primary answers once it dropped this node (or 5 s pass).
            List<IGrouping<NodeId, PieSlice>> byPrimary = [.. View.Slices.Where(s => s.Primary is { } p && p != Id && s.IsInSync(Id)).GroupBy(s => s.Primary!.Value)];
            int waiting = byPrimary.Count;
            bool done = false;
            void Finish()
            {
                if (!done && Alive(life))
                {
                    done = true;
                    AnnounceDownAndStop(handovers);
                }
            }

            foreach (IGrouping<NodeId, PieSlice> group in byPrimary)
            {
                List<uint> starts = [.. group.Select(s => s.Range.Start)];
                sim.Send(this, group.Key, p => p.OnGoodbye(Id, starts, () => sim.Send(p, Id, _ =>
                {
                    if (--waiting == 0)
                    {
                        Finish();
                    }
                })));
            }

            if (waiting == 0)
            {
                Finish();
            }
            else
            {
                sim.After(GoodbyeTimeoutMs, Finish);
            }
        });
    }

    /// <summary>
    /// As DecommissionAsync: the node says it is Leaving (to every reachable peer), so that
    /// placement moves every slice it holds to the others; once it holds none it says goodbye as
    /// Left and stops for good. Given up after <paramref name="timeoutMs"/>: it is Up again, in a
    /// new incarnation, and serves on. <paramref name="done"/> says whether it left.
    /// </summary>
    public void Decommission(long timeoutMs, Action<bool> done)
    {
        long life = Life;
        Broadcast(_membership.SetSelfState(NodeState.Leaving, WallNowMs, bumpIncarnation: false), []);
        long deadline = sim.NowMs + timeoutMs;
        void Poll()
        {
            if (!Alive(life))
            {
                return;
            }

            if (!View.Slices.Any(s => s.IsHeldBy(Id)))
            {
                _decommissioned = true;
                SayGoodbye();
                done(true);
            }
            else if (sim.NowMs > deadline)
            {
                _membership.SetSelfState(NodeState.Up, WallNowMs, bumpIncarnation: true);
                done(false);
            }
            else
            {
                sim.After(200, Poll);
            }
        }

        sim.After(200, Poll);
    }

    // As BroadcastAsync: this node's record and some slices to every reachable peer.
    private void Broadcast(NodeRecord self, List<PieSlice> slices)
    {
        foreach (NodeRecord peer in Peers().ToList())
        {
            sim.Send(this, peer.Id, p =>
            {
                p.Merge([self]);
                p.MergeSlices(slices);
                // As ForgetIfSaidGoodbye: the node said it itself, it is no longer "heard from" (nor
                // are its messages that arrive late, until it is back in a newer incarnation).
                p._goodbyes.Said(self, p.Nodes);
            });
        }
    }

    private void AnnounceDownAndStop(List<SliceChange> handovers)
    {
        NodeRecord down = _membership.SetSelfState(_decommissioned ? NodeState.Left : NodeState.Down, WallNowMs, bumpIncarnation: false);
        Broadcast(down, [.. handovers.Select(h => View.Find(h.Next.Range.Start)).Where(s => s.Primary != Id)]);
        sim.Note($"{Id} said goodbye{(_decommissioned ? ", left for good" : "")}");
        Stop();
    }

    // Primary side of a goodbye, as OnGoodbyeAsync: the replica gave its leases back and leaves
    // the in-sync set at once (up to five attempts per slice, as DropFromInSyncAsync); the answer
    // goes when every slice is done.
    private void OnGoodbye(NodeId replica, List<uint> starts, Action answer)
    {
        long life = Life;
        int pending = starts.Count;
        foreach (uint start in starts)
        {
            _slices.Released(start, replica);
            DropFromInSync(start, [replica], "replica stopping", attempt: 0, life, () =>
            {
                if (--pending == 0)
                {
                    answer();
                }
            });
        }

        if (starts.Count == 0)
        {
            answer();
        }
    }

    // As DropFromInSyncAsync: up to five attempts, until the replicas are out of this node's record or it no longer leads it.
    private void DropFromInSync(uint start, IReadOnlyCollection<NodeId> replicas, string reason, int attempt, long life, Action done)
    {
        if (attempt == 5 || WriteReplication.Dropping(View.Find(start), replicas, Id) is not { } next)
        {
            done();
            return;
        }

        Commit(new SliceChange(View.Find(start), next, reason), life, () => DropFromInSync(start, replicas, reason, attempt + 1, life, done));
    }

    /// <summary>Any message from a node is a sign of life, but for one that said goodbye (as NoteContact).</summary>
    public void HeardFrom(NodeId node) => _goodbyes.Heard(node, incarnation: null, Nodes, sim.NowMs);

    // As the node merges node records, through the real MembershipState: bounds, retention,
    // the cap, refutation. An honest peer's records are never refused.
    private void Merge(IReadOnlyCollection<NodeRecord> records)
    {
        if (_membership.Merge(records, View, WallNowMs, mayRefute: !_goingDown).Refusal is { } refusal)
        {
            sim.Refused($"{Id} refused records of an honest peer: {refusal}");
        }
    }

    /// <summary>Takes every slice record that supersedes the one held (a push or a gossip exchange).</summary>
    public void MergeSlices(IEnumerable<PieSlice> records)
    {
        bool handed = false;
        foreach ((PieSlice before, PieSlice after) in _slices.Merge(records, sim.NowMs, out _))
        {
            sim.CheckLocalReads(after.Range.Start, this);
            if (after.Primary == Id && before.Primary != Id)
            {
                handed = true;
                InheritAnswers(after.Range);
            }
        }

        if (handed)
        {
            ConfirmRecords(Life);
        }
    }

    /// <summary>
    /// As the node's read path decides: this node may answer a read of <paramref name="slice"/>
    /// (its own record of it) from its own copy, as the primary in touch with a majority, or as
    /// an in-sync replica holding the primary's lease; never before its maps were confirmed.
    /// </summary>
    public bool CanReadLocally(PieSlice slice) =>
        Running && _confirmed && !Withdrawn
        && ((slice.Primary == Id && HasReadQuorum())
            || (slice.IsInSync(Id) && slice.Primary is { } primary && _slices.Leases.Holds(slice.Range.Start, primary, sim.NowMs)));

    private bool IsServing(NodeId node) => node == Id || Nodes.Find(node)?.IsServing == true;

    private bool IsReachable(NodeId node) => node == Id || Nodes.Find(node)?.IsReachable == true;

    private bool Alive(long life) => Running && Life == life;

    // Computed once per map snapshot (speed only: maps may hold hundreds of nodes gone for hours).
    private (NodeMap Nodes, List<NodeRecord> Peers) _peers;
    private (NodeMap Nodes, List<NodeId> Reachable, List<NodeId> Down) _gossipTargets;
    private (NodeMap Nodes, SliceMap View, List<NodeId> Voters) _voters;

    private List<NodeRecord> Peers()
    {
        NodeMap nodes = Nodes;
        if (!ReferenceEquals(_peers.Nodes, nodes))
        {
            _peers = (nodes, [.. nodes.Nodes.Where(n => n.Id != Id && n.IsReachable)]);
        }

        return _peers.Peers;
    }

    private List<NodeId> Voters()
    {
        NodeMap nodes = Nodes;
        SliceMap view = View;
        if (!ReferenceEquals(_voters.Nodes, nodes) || !ReferenceEquals(_voters.View, view))
        {
            _voters = (nodes, view, MajorityContact.Voters(nodes, view));
        }

        return _voters.Voters;
    }

    private bool HasCommitQuorum() =>
        Quorum.Holds(Id, Voters(), n => Nodes.Find(n)?.State is NodeState.Up or NodeState.Joining or NodeState.Leaving);

    // As HasReadQuorum: always for the sole voter.
    private bool HasReadQuorum() => sim.NowMs < _contact.ReadQuorumUntilMs || Voters().All(v => v == Id);

    // As the failure detector's tick refreshes it, through the node's MajorityContact.
    private void RefreshReadQuorum()
    {
        long before = _contact.ReadQuorumUntilMs;
        _contact.Refresh(Voters(), sim.NowMs);
        ReadQuorumExtended(before);
    }

    private void ReadQuorumExtended(long before)
    {
        if (_contact.ReadQuorumUntilMs == before)
        {
            return;
        }

        foreach (PieSlice slice in View.Slices.Where(s => s.Primary == Id))
        {
            sim.CheckLocalReads(slice.Range.Start, this);
        }
    }

    // As the node: an exchange of maps with a peer (this node asked and merged the answer, or
    // its digests matched an asker's) counts toward the resync. A delta received does not: a
    // pushed record is not the whole of the peer's maps.
    private void Resynced(NodeId peer, long sinceMs)
    {
        long before = _contact.ReadQuorumUntilMs;
        _contact.Exchanged(peer, sinceMs, Voters(), sim.NowMs);
        ReadQuorumExtended(before);
    }

    private void Tick(long life)
    {
        if (!Alive(life))
        {
            return;
        }

        sim.After(PlacementSimulation.RoundMs, () => Tick(life));
        if (_suspect.Count > 0 && _confirmed && !_goingDown)
        {
            StepDown(life);
        }

        // Stepping down, it still takes over a slice whose primary is gone (and hands it on).
        if (_goingDown)
        {
            return;
        }

        if (!_confirmed)
        {
            return;
        }

        ConfirmRecords(life);
        if (_inRound)
        {
            _roundPending = true;
            return;
        }

        RunRound(life);
    }

    private void RunRound(long life)
    {
        _inRound = true;
        HurryTakeovers(life);
        CommitAll(PlacementRound.Repairs(View, Id, IsServing, IsReachable, MayTakeOverFrom, _slices.ToRestamp()), life, () =>
        {
            CommitAll(Steps(), life, () =>
            {
                SplitLargeSlices();

                // Never from a copy that may lack writes.
                if (!Withdrawn)
                {
                    StartCatchUps(life);
                }

                _inRound = false;
                if (_roundPending)
                {
                    _roundPending = false;
                    RunRound(life);
                }
            });
        });
    }

    // As the node, through its MajorityContact.
    private bool MayTakeOverFrom(NodeId primary) =>
        _contact.MayTakeOverFrom(primary, Voters(), sim.NowMs - PlacementSimulation.DetectionMs, sim.NowMs);

    private IEnumerable<NodeId> SilentPrimariesToTakeOver() =>
        View.Slices
            .Where(s => s.Primary is { } p && !_detector.HeardSince(p, sim.NowMs - PlacementSimulation.DetectionMs) && SliceMoves.TakeOver(s, Id, IsServing) is not null)
            .Select(s => s.Primary!.Value).Distinct();

    // As HurryTakeovers: pings of each silent primary this node would take over from, one at a
    // time, until it is heard from or no longer silent (over the node's connection: not lost on a
    // working link, refused at once by a dead process's port); once one failed, an exchange with
    // every reachable peer not exchanged with since (one at a time per peer).
    private void HurryTakeovers(long life)
    {
        foreach (NodeId primary in SilentPrimariesToTakeOver().ToList())
        {
            if (_pinging.Add(primary))
            {
                PingSilentPrimary(primary, life);
            }

            if (_contact.PingsFailingSince(primary) is not { } since)
            {
                continue;
            }

            foreach (NodeRecord peer in Peers().Where(n => n.Id != primary && !_contact.ExchangedAfter(n.Id, since)).ToList())
            {
                if (_hurrying.Add(peer.Id))
                {
                    NodeId id = peer.Id;
                    Exchange(id, isDown: false, lossless: true, done: () => _hurrying.Remove(id));
                    sim.After(2 * GossipTimeoutMs, () => _hurrying.Remove(id));
                }
            }
        }
    }

    private void PingSilentPrimary(NodeId primary, long life)
    {
        if (!Alive(life) || !SilentPrimariesToTakeOver().Contains(primary))
        {
            if (Alive(life))
            {
                _contact.PingsEnded(primary);
            }

            _pinging.Remove(primary);
            return;
        }

        bool decided = false;
        void Failed()
        {
            if (decided || !Alive(life))
            {
                return;
            }

            decided = true;
            _contact.PingFailed(primary, sim.NowMs);
            sim.After(TakeoverPingIntervalMs, () => PingSilentPrimary(primary, life));
        }

        sim.Send(this, primary, p => sim.Send(p, Id, n =>
        {
            if (!decided && n.Alive(life))
            {
                decided = true;
                _contact.PingsEnded(primary);
                _pinging.Remove(primary);
            }
        }, lossless: true), lossless: true, refused: Failed);
        sim.After(DirectPingMs, Failed);
    }

    // Steps are a pure function of the maps and of which nodes are keepable: a round with the
    // same inputs as the last quiet one is quiet too, and is not planned again (speed only).
    private List<SliceChange> Steps()
    {
        var grace = TimeSpan.FromMilliseconds(PlacementSimulation.GraceMs);
        string inputs = $"{View.Digest}/{Nodes.Digest}/{string.Join(",", Nodes.Nodes.Where(n => PlacementRound.IsKeepable(n, WallNowMs, grace)).Select(n => n.Id))}";
        if (inputs == _quietInputs)
        {
            return [];
        }

        List<SliceChange> steps = PlacementRound.Steps(View, Nodes, Id, WallNowMs, grace, sim.ReplicationFactor);
        _quietInputs = steps.Count == 0 ? inputs : null;
        return steps;
    }

    private void CommitAll(List<SliceChange> changes, long life, Action then)
    {
        int pending = changes.Count;
        if (pending == 0)
        {
            then();
            return;
        }

        foreach (SliceChange change in changes)
        {
            // As the node: a takeover is checked again when it goes in.
            Func<bool>? stillValid = change.BasedOn.Primary is { } primary && primary != Id && change.Next.Primary == Id ? () => MayTakeOverFrom(primary) : null;
            Commit(change, life, () =>
            {
                if (--pending == 0)
                {
                    then();
                }
            }, stillValid);
        }
    }

    // As CommitSliceAsync: the steps of the real SliceCommit over the real SliceAuthority (a
    // replica leaving the in-sync set gets no lease from the start of the commit and is dropped
    // once the leases this node granted it ran out, and a lease's length after this node began to
    // lead; a hand-over waits for this node's writes in flight on the slice); the record goes in
    // only if it is still the one the change was based on, with a majority in contact.
    private void Commit(SliceChange change, long life, Action done, Func<bool>? mayCommit = null)
    {
        if (sim.Scope.HintsAndAntiEntropy)
        {
            change = change with { Next = WithHints(change.BasedOn, change.Next) };
        }

        var commit = new SliceCommit(_slices, Id, change.BasedOn, change.Next, HandOverPollMs);
        sim.WorkInFlight++;
        sim.After(0, () => StepCommit(commit, change, life, done, mayCommit));
    }

    private void StepCommit(SliceCommit commit, SliceChange change, long life, Action done, Func<bool>? mayCommit)
    {
        if (!Alive(life))
        {
            sim.WorkInFlight--;
            return;
        }

        bool waited = commit.WaitedForWrites;
        // Earlier scopes ran without the hand-over fence (as a goodbye's commits do).
        CommitStep step = commit.Step(sim.NowMs, withdrawn: Withdrawn || !sim.Scope.HandOverFence, WritingIn(commit.BasedOn.Range));
        if (commit.WaitedForWrites && !waited)
        {
            sim.HandOversThatWaited++;
        }

        switch (step.Kind)
        {
            case CommitStepKind.Wait:
                sim.At(step.AtMs, () => StepCommit(commit, change, life, done, mayCommit));
                return;
            case CommitStepKind.SendPendingRenewals when sim.Scope.SlidingExpiry:
                SendPendingTouches(commit.BasedOn, life, () => StepCommit(commit, change, life, done, mayCommit));
                return;
            case CommitStepKind.SendPendingRenewals:
                StepCommit(commit, change, life, done, mayCommit);
                return;
            case CommitStepKind.GiveUp:
                sim.WorkInFlight--;
                done();
                return;
        }

        sim.WorkInFlight--;
        CommitResult result = commit.End(sim.NowMs, HasCommitQuorum() && mayCommit?.Invoke() != false);
        if (result.IsCommitted)
        {
            sim.Committed(this, change);
            ForgetHints(commit.BasedOn, commit.Next);
            if (result.InheritsAnswers)
            {
                InheritAnswers(commit.Next.Range);
            }

            sim.CheckLocalReads(commit.Next.Range.Start);
            Push(commit.Next);
            if (result.AsksConfirmation)
            {
                ConfirmRecords(life);
            }
        }

        done();
    }

    // As the lease loop: every 500 ms an in-sync replica asks each reachable primary for leases
    // on its slices (the record it knows of each); a lease runs from the moment it asked.
    private void Renew(long life)
    {
        if (!Alive(life))
        {
            return;
        }

        sim.After(RenewMs, () => Renew(life));
        if (Withdrawn)
        {
            return;
        }

        _slices.ForgetEndedGrants(sim.NowMs);
        foreach (var group in View.Slices.Where(s => s.Primary is { } p && p != Id && s.IsInSync(Id) && IsReachable(p)).GroupBy(s => s.Primary!.Value))
        {
            NodeId primary = group.Key;
            long askedAtMs = sim.NowMs;
            List<(uint Start, long Epoch)> asked = [.. group.Select(s => (s.Range.Start, s.Epoch))];
            sim.Send(this, primary, p =>
            {
                List<(uint Start, long Epoch)> granted = p._slices.Grant(Id, asked, sim.NowMs, mayGrant: p.HasReadQuorum() && !p.Withdrawn);
                sim.Send(p, Id, n =>
                {
                    // A reply to an earlier life is lost with its connection.
                    if (n.Life == life)
                    {
                        n._slices.Held(primary, granted.Select(g => g.Start), askedAtMs);
                        foreach ((uint start, _) in granted)
                        {
                            sim.CheckLocalReads(start, n);
                        }
                    }
                });
            });
        }
    }

    // As ConfirmRecords, through the real RecordConfirmations: each record that took replicas out
    // of the in-sync set (or that this node came to lead) and that no majority is known to hold
    // goes to every reachable peer, which answers with its own record of the slice; confirmed as
    // soon as the answers make a majority of voters (this node included), at once in a farm of
    // two voters or fewer; the round ends unconfirmed after the node's 2 s send timeout.
    private void ConfirmRecords(long life)
    {
        if (!_confirmed || !Alive(life))
        {
            return;
        }

        RecordConfirmations rounds = _recordConfirmations;
        foreach (PieSlice record in rounds.Begin(_slices, Voters()))
        {
            uint start = record.Range.Start;
            List<NodeId> peers = [.. Peers().Select(n => n.Id)];
            int pending = peers.Count;
            bool over = false;
            void End(bool confirmed)
            {
                over = true;
                if (!confirmed)
                {
                    rounds.Ended(record);
                }

                // Not the waiters of a newer record's round (this one was replaced by it).
                if (!rounds.IsAsking(start) && _confirmWaiters.Remove(start, out List<Action>? waiters))
                {
                    waiters.ForEach(w => w());
                }
            }

            foreach (NodeId peer in peers)
            {
                sim.Send(this, peer, p =>
                {
                    p.MergeSlices([record]);
                    PieSlice theirs = p.View.Find(start);
                    sim.Send(p, Id, n =>
                    {
                        if (n.Alive(life) && !over)
                        {
                            if (rounds.Answered(_slices, record, peer, theirs, Voters()))
                            {
                                End(confirmed: true);
                            }
                            else if (--pending == 0)
                            {
                                End(confirmed: false);
                            }
                        }
                    }, lossless: true);
                }, lossless: true);
            }

            if (peers.Count == 0)
            {
                End(confirmed: false);
                continue;
            }

            sim.After(GossipTimeoutMs, () =>
            {
                if (!over && Alive(life))
                {
                    End(confirmed: false);
                }
            });
        }

        // Confirmed at once (no majority to keep): its waiters need not wait.
        foreach (uint start in _confirmWaiters.Keys.Where(s => !rounds.IsAsking(s)).ToList())
        {
            _confirmWaiters.Remove(start, out List<Action>? waiters);
            waiters!.ForEach(w => w());
        }
    }

    // Calls then once the confirmation of the slice at start under way ends, or after timeoutMs, whichever comes first.
    private void WhenConfirmed(uint start, int timeoutMs, long life, Action then)
    {
        bool called = false;
        void Once()
        {
            if (!called && Alive(life))
            {
                called = true;
                then();
            }
        }

        if (!_confirmWaiters.TryGetValue(start, out List<Action>? waiters))
        {
            _confirmWaiters[start] = waiters = [];
        }

        waiters.Add(Once);
        sim.After(timeoutMs, Once);
    }

    private void Push(PieSlice record)
    {
        foreach (NodeId replica in record.Replicas.Where(n => n != Id && IsReachable(n)))
        {
            sim.Send(this, replica, n => n.MergeSlices([record]));
        }
    }

    private void StartCatchUps(long life)
    {
        foreach (PieSlice slice in View.Slices.Where(s => s.Primary == Id))
        {
            foreach (NodeId replica in slice.Replicas.Where(n => n != Id && !slice.IsInSync(n) && Nodes.Find(n)?.State is NodeState.Up or NodeState.Joining))
            {
                if (_catchUps.Add((slice.Range.Start, replica)))
                {
                    CatchUp(slice, replica, life);
                }
            }
        }
    }

    // The stream ended: committed unless a write missed the replica meanwhile (checked again at the commit).
    private void CaughtUp(uint start, NodeId replica, long life)
    {
        PieSlice current = View.Find(start);
        if (current.Primary != Id || !current.IsHeldBy(replica) || current.IsInSync(replica) || _catchUpBroken.GetValueOrDefault((start, replica)))
        {
            _catchUps.Remove((start, replica));
            return;
        }

        Commit(
            new SliceChange(current, current.Next(current.Replicas, [.. current.InSync, replica]), "replica caught up"),
            life,
            () => _catchUps.Remove((start, replica)),
            mayCommit: () => !_catchUpBroken.GetValueOrDefault((start, replica)));
    }

    private void Gossip(long life)
    {
        if (!Alive(life))
        {
            return;
        }

        sim.After(PlacementSimulation.GossipMs, () => Gossip(life));
        // As the node picks: a reachable peer, a friend every fourth round, a Down node (most
        // recently gone first) every fifth, one call to a Down node at a time (a dead address
        // holds it for the 2 s connect timeout).
        NodeMap nodes = Nodes;
        if (!ReferenceEquals(_gossipTargets.Nodes, nodes))
        {
            _gossipTargets = (nodes, [.. Peers().Select(n => n.Id)], [.. nodes.Nodes.Where(n => n.Id != Id && n.State == NodeState.Down).OrderByDescending(n => n.GoneSinceMs).Select(n => n.Id)]);
        }

        List<NodeId> reachable = _gossipTargets.Reachable;
        List<NodeId> down = _gossipTargets.Down;
        List<NodeId> friends = [.. sim.Friends(this)];
        bool downAllowed = sim.NowMs >= _downCallUntilMs;
        if (!GossipTarget.TryPick(++_gossipRound, reachable, friends, down, downAllowed, sim.Random, out NodeId target, out bool isDown))
        {
            return;
        }

        if (isDown)
        {
            _downCallUntilMs = sim.NowMs + ConnectTimeoutMs;
        }

        Exchange(target, isDown);
    }

    private void Exchange(NodeId target, bool isDown, bool lossless = false, Action? done = null)
    {
        // The node's exchange, through the real MapSync: digests; if they differ, the peer's
        // summary, this node's delta against it (what it has newer, what it wants), the peer's
        // answer with the wanted entries.
        SyncDigestMessage digest = MapSync.Digest(_membership.Self, Nodes, View);
        long startedAtMs = sim.NowMs;
        sim.Send(this, target, p =>
        {
            p.Merge([digest.Sender]);
            SyncSummaryMessage? summary = MapSync.SummaryFor(digest, p.Nodes, p.View);
            if (summary is null)
            {
                p.Resynced(Id, sim.NowMs);
            }
            sim.Send(p, Id, n =>
            {
                if (summary is null)
                {
                    n.Confirmed(target, isDown, startedAtMs);
                    done?.Invoke();
                    return;
                }

                SyncDeltaMessage push = MapSync.DeltaAgainst(summary, n.Nodes, n.View);
                sim.Send(n, target, p2 =>
                {
                    p2.MergeDelta(push);
                    SyncDeltaMessage answer = MapSync.Answer(push, p2.Nodes, p2.View, sim.InitialLayout);
                    sim.Send(p2, Id, n2 =>
                    {
                        n2.MergeDelta(answer);
                        n2.Confirmed(target, isDown, startedAtMs);
                        done?.Invoke();
                    }, lossless);
                }, lossless);
            }, lossless);
        }, lossless);
    }

    private void MergeDelta(SyncDeltaMessage delta)
    {
        Merge([.. delta.Nodes]);
        MergeSlices(delta.Slices);
    }

    private void Confirmed(NodeId peer, bool afterCallToDownNode, long startedAtMs)
    {
        // As the node: a bootstrap map (every record at epoch 0) is confirmed only by the farm's
        // established map, or by the start-up timeout; never by another joiner's bootstrap map.
        if (!_confirmed && View.Slices.Any(s => s.Epoch > 0))
        {
            _confirmed = true;
            ConfirmRecords(Life);
        }

        Resynced(peer, startedAtMs);
        if (afterCallToDownNode)
        {
            _downCallUntilMs = 0;
        }
    }

    // Every reachable peer: a direct ping, then (no answer) a ping through two helpers, then (still
    // none) a failed round. Verdicts on every peer each tick, from silence and failed rounds.
    private void Probe(long life)
    {
        if (!Alive(life))
        {
            return;
        }

        sim.After(ProbeMs, () => Probe(life));
        foreach (NodeRecord peer in Peers().ToList())
        {
            if (!_probing.Add(peer.Id))
            {
                continue;
            }

            long since = sim.NowMs;
            NodeId target = peer.Id;
            sim.Send(this, target, p => sim.Send(p, Id, _ => { }));
            sim.After(DirectPingMs, () =>
            {
                if (!Alive(life) || _detector.HeardSince(target, since))
                {
                    _probing.Remove(target);
                    return;
                }

                foreach (NodeRecord helper in Peers().Where(n => n.Id != target).OrderBy(_ => sim.Random.Next()).Take(2).ToList())
                {
                    sim.Send(this, helper.Id, h => sim.Send(h, target, t => sim.Send(t, h.Id, h2 => sim.Send(h2, Id, n => n.HeardFrom(target)))));
                }

                sim.After(IndirectPingMs, () =>
                {
                    if (Alive(life))
                    {
                        _probing.Remove(target);
                        if (!_detector.HeardSince(target, since))
                        {
                            _detector.ProbeFailed(target, sim.NowMs);
                        }
                    }
                });
            });
        }

        RefreshReadQuorum();
        // As TendNodeMap: nodes gone past the retention that no slice names are forgotten.
        foreach (NodeRecord forgotten in _membership.AnyExpired(WallNowMs) ? _membership.ForgetExpired(View, WallNowMs) : [])
        {
            _detector.Forget(forgotten.Id);
            _goodbyes.Forget(forgotten.Id);
            _contact.Forget(forgotten.Id);
            sim.Note($"{Id} forgets {forgotten.Id}");
        }

        _goodbyes.Tend(Nodes);
        List<NodeRecord> verdicts = [.. _detector.Evaluate(Nodes, Id, sim.NowMs, WallNowMs)];
        if (verdicts.Count > 0)
        {
            Merge(verdicts);
            foreach (NodeRecord verdict in verdicts)
            {
                sim.Note($"{Id} sees {verdict.Id} {verdict.State}");
            }
        }
    }
}
