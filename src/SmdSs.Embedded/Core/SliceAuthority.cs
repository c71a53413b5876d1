using System.Collections.Immutable;
using SmdSs.Model;

namespace SmdSs.Core;

/// <summary>
/// One node's say over slice records: the slice map it holds, the read leases it grants as a
/// primary and holds as a replica, and when a new record may be committed. A replica outside the
/// in-sync set may not serve a read, so a record that drops one is committed only after every
/// lease that replica may hold has run out, and no lease is granted to it while such a commit is
/// pending. Single-threaded and pure: the host calls it under one lock, passes its monotonic
/// milliseconds in, and carries out what it returns (persist the map, push records, log);
/// <see cref="Map"/> and <see cref="Leases"/> are immutable snapshots any thread may read.
/// A record that takes a replica out of the in-sync set binds writes only once a majority of
/// voters hold it (<see cref="WriteRequires"/>, <see cref="IsWriteBlocked"/>, <see cref="Confirmed"/>):
/// until then a replica on the other side of a partition may take the slice over from its older
/// record, and a write acknowledged without it would be missing there.
/// </summary>
internal sealed class SliceAuthority
{
    private readonly NodeId _self;
    private readonly long _leaseMs;
    private readonly SliceMap? _initialLayout;
    private readonly Dictionary<(uint Start, NodeId Replica), long> _grantedUntilMs = [];
    // How many pending commits drop each replica: while any does, it gets no lease.
    private readonly Dictionary<(uint Start, NodeId Replica), int> _dropsPending = [];

    /// <summary>
    /// Starts from <paramref name="map"/>. Leases granted before a restart are unknown: every slice
    /// this node leads counts as newly led. Merged records must be halvings of the farm's initial
    /// slices, <paramref name="initialLayout"/> (see <see cref="SliceMap.Merge"/>).
    /// </summary>
    public SliceAuthority(NodeId self, SliceMap map, long leaseMs, long nowMs, SliceMap? initialLayout = null)
    {
        _self = self;
        _initialLayout = initialLayout;
        _leaseMs = leaseMs;
        _map = map;
        _leases = ReadLeases.None.LedSince(map.Slices.Where(s => s.Primary == self).Select(s => s.Range.Start), nowMs);
        // What was committed before a restart, and reached whom, is unknown: no write until confirmed.
        _unconfirmed = map.Slices.Where(s => s.Primary == self && s.Replicas.Any(n => n != self))
            .ToImmutableDictionary(s => s.Range.Start, s => new Unconfirmed(s.Epoch, [.. s.Replicas.Where(n => n != self)], Blocked: true));
    }

    // Volatile: read lock-free by request threads.
    private volatile SliceMap _map;
    private volatile ReadLeases _leases;
    private volatile ImmutableDictionary<uint, Unconfirmed> _unconfirmed;
    // Slices a pending commit of this node hands to another primary, with how many such commits are pending.
    private volatile ImmutableDictionary<uint, int> _handingOver = ImmutableDictionary<uint, int>.Empty;
    // Pieces of slices this node leads that a merge cut keeping the whole's record: their
    // (start, epoch) names the whole slice on nodes that have not learned the cut.
    private volatile ImmutableHashSet<(uint Start, long Epoch)> _restamp = [];

    public SliceMap Map { get => _map; private set => _map = value; }

    public ReadLeases Leases { get => _leases; private set => _leases = value; }

    /// <summary>
    /// The nodes, besides the in-sync replicas of the current record, that a write to the slice at
    /// <paramref name="start"/> must reach before it is acknowledged: replicas taken out of the
    /// in-sync set by a record of this node that a majority of voters may not hold yet. Empty once confirmed.
    /// </summary>
    public ImmutableArray<NodeId> WriteRequires(uint start) =>
        _unconfirmed.TryGetValue(start, out Unconfirmed? unconfirmed) ? unconfirmed.Required : [];

    /// <summary>
    /// True while no write to the slice at <paramref name="start"/> may be acknowledged at all:
    /// this node came to lead it (a restart, a takeover, a hand-over) and which records before its
    /// own took whom out is unknown here (a move may have taken a replica off the list altogether)
    /// until a majority of voters is known to hold its record.
    /// </summary>
    public bool IsWriteBlocked(uint start) =>
        (_unconfirmed.TryGetValue(start, out Unconfirmed? unconfirmed) && unconfirmed.Blocked) || (!_restamp.IsEmpty && NeedsRestamp(Map.Find(start)));

    /// <summary>
    /// True while a commit of this node that hands the slice at <paramref name="start"/> to another
    /// primary waits for the writes in flight there (<see cref="FenceHandOver"/>): no write may begin on it (one that began before goes on; the host waits
    /// for it before it ends the commit). A write still in flight at the hand-over that misses the
    /// next primary but reaches another replica leaves there a value, and the answer of its
    /// operation, outside the next primary's history: a retry answered from it is an answer given
    /// twice (placement simulation, seed 2711 of scope 7).
    /// </summary>
    public bool IsHandingOver(uint start) => !_handingOver.IsEmpty && _handingOver.ContainsKey(start);

    /// <summary><see cref="IsHandingOver"/> for the slice that holds <paramref name="keyHash"/> now (a slice read before a split may name the whole).</summary>
    public bool IsHandingOverKey(uint keyHash) => !_handingOver.IsEmpty && _handingOver.ContainsKey(Map.Find(keyHash).Range.Start);

    /// <summary>
    /// Slices this node leads that a merge cut out of a slice it led keeping that slice's record
    /// (a split it learned late: see <see cref="SliceMap.Merge"/>). A node that has not learned the
    /// cut takes their (start, epoch) for the whole slice: a lease on one would cover the rest there,
    /// and a replica would refuse writes to the others. So no lease and no write until the host
    /// commits each anew at the next epoch (<see cref="Placement.PlacementRound.Repairs"/>).
    /// </summary>
    public List<PieSlice> ToRestamp() =>
        [.. _restamp.Select(r => Map.Find(r.Start)).Where(NeedsRestamp).DistinctBy(s => s.Range.Start).OrderBy(s => s.Range.Start)];

    private bool NeedsRestamp(PieSlice slice) =>
        slice.Primary == _self && _restamp.Contains((slice.Range.Start, slice.Epoch));

    /// <summary>The records of slices this node leads whose last taking-out no majority is known to hold: the host sends them round and counts who holds them.</summary>
    public List<PieSlice> UnconfirmedRecords() =>
        [.. _unconfirmed.Keys.Order().Select(Map.Find).Where(s => s.Primary == _self)];

    /// <summary>A majority of voters hold this node's record of the slice at <paramref name="start"/> at <paramref name="epoch"/>: what it took out binds writes no more.</summary>
    public void Confirmed(uint start, long epoch)
    {
        if (_unconfirmed.TryGetValue(start, out Unconfirmed? unconfirmed) && unconfirmed.Epoch <= epoch)
        {
            _unconfirmed = _unconfirmed.Remove(start);
        }
    }

    /// <summary>Leases this node granted that have not run out (tests read it: an ask refused must leave no grant behind, which would hold a drop back).</summary>
    public int GrantedCount(long nowMs) => _grantedUntilMs.Values.Count(until => until > nowMs);

    /// <summary>Starts committing <paramref name="next"/> over <paramref name="basedOn"/>: until it ends, no replica it drops gets a lease.</summary>
    public PendingCommit BeginCommit(PieSlice basedOn, PieSlice next)
    {
        var commit = new PendingCommit(this, basedOn, next, [.. basedOn.InSync.Where(n => n != _self && !next.IsInSync(n))]);
        foreach (NodeId replica in commit.Dropped)
        {
            var key = (basedOn.Range.Start, replica);
            _dropsPending[key] = _dropsPending.GetValueOrDefault(key) + 1;
        }

        return commit;
    }

    /// <summary>
    /// Raises the fence of <paramref name="commit"/>, a hand-over ready but for this node's writes in
    /// flight on the slice: from now until it ends, no write begins there (<see cref="IsHandingOver"/>).
    /// Not at <see cref="BeginCommit"/>: the wait for a dropped replica's lease would refuse writes too.
    /// </summary>
    public void FenceHandOver(PendingCommit commit)
    {
        if (commit.Owner != this || commit.Ended || commit.Fenced || !commit.HandsOver(_self))
        {
            return;
        }

        commit.Fenced = true;
        uint start = commit.BasedOn.Range.Start;
        _handingOver = _handingOver.SetItem(start, _handingOver.GetValueOrDefault(start) + 1);
    }

    /// <summary>
    /// When <paramref name="commit"/> may go in: once the leases this node granted its dropped
    /// replicas have run out, and a lease's length after this node began to lead the slice (its
    /// predecessor's grants are unknown here). Later than asked if this node leads anew meanwhile.
    /// </summary>
    public long ReadyAtMs(PendingCommit commit)
    {
        if (commit.Owner != this)
        {
            return long.MinValue / 2;
        }

        uint start = commit.BasedOn.Range.Start;
        // Far in the past, yet far from overflowing when a host subtracts its clock.
        long ready = long.MinValue / 2;
        foreach (NodeId replica in commit.Dropped)
        {
            ready = Math.Max(ready, Math.Max(_grantedUntilMs.GetValueOrDefault((start, replica), long.MinValue / 2), Leases.PrimarySince(start) + _leaseMs));
        }

        return ready;
    }

    /// <summary>
    /// Ends <paramref name="commit"/>: the record goes in when it is ready, the slice's record is
    /// still the one it was based on, it supersedes it, and the host says this node may commit
    /// (a majority in contact, and whatever else the change depends on). Either way its drops end.
    /// </summary>
    public CommitOutcome EndCommit(PendingCommit commit, long nowMs, bool mayCommit)
    {
        if (commit.Owner != this)
        {
            return CommitOutcome.Refused("begun before this node restarted");
        }

        if (!Release(commit))
        {
            return CommitOutcome.Refused("ended already");
        }

        uint start = commit.BasedOn.Range.Start;
        PieSlice current = Map.Find(start);
        string? refusal =
            nowMs < ReadyAtMs(commit) ? "a dropped replica's lease runs on"
            : !current.ContentEquals(commit.BasedOn) ? "the record changed meanwhile"
            : !commit.Next.Supersedes(current) ? "the record does not supersede the current one"
            : !mayCommit ? "this node may not commit now"
            : null;
        if (refusal is not null)
        {
            return CommitOutcome.Refused(refusal);
        }

        // Lead time first: a lock-free reader that sees the new map sees it too.
        NoteRecordChange(current, commit.Next, nowMs);
        Map = Map.With(commit.Next);
        return CommitOutcome.Committed(current);
    }

    /// <summary>Ends <paramref name="commit"/> without committing (its caller gave up).</summary>
    public void Abandon(PendingCommit commit)
    {
        if (commit.Owner == this)
        {
            Release(commit);
        }
    }

    /// <summary>Takes every record that supersedes the one held; returns each change with the record it replaced.</summary>
    public List<(PieSlice Before, PieSlice After)> Merge(IEnumerable<PieSlice> records, long nowMs, out List<PieSlice> unknown)
    {
        SliceMap merged = Map.Merge(records, out List<PieSlice> changed, out unknown, _initialLayout);
        List<(PieSlice, PieSlice)> changes = [.. changed.Select(after => (Map.Find(after.Range.Start), after))];
        // What bound the whole slices' writes before any piece of them changed hands.
        ImmutableDictionary<uint, Unconfirmed> boundBefore = _unconfirmed;
        foreach ((PieSlice before, PieSlice after) in changes)
        {
            NoteRecordChange(before, after, nowMs);
            if (after.Range != before.Range && before.Primary == _self && after.Primary == _self)
            {
                // A slice this node leads, cut by a record of a split it did not know: as after a
                // split of its own, leases on the whole covered the new piece, and what bound the
                // whole's writes binds the piece's.
                Leases = Leases.LedPiece(before.Range.Start, after.Range.Start, nowMs);
                if (boundBefore.TryGetValue(before.Range.Start, out Unconfirmed? whole))
                {
                    _unconfirmed = _unconfirmed.SetItem(after.Range.Start, _unconfirmed.TryGetValue(after.Range.Start, out Unconfirmed? piece)
                        ? new Unconfirmed(Math.Max(whole.Epoch, piece.Epoch), [.. whole.Required.Union(piece.Required)], whole.Blocked || piece.Blocked)
                        : whole);
                }

                if (after.Epoch == before.Epoch)
                {
                    _restamp = _restamp.Add((after.Range.Start, after.Epoch));
                }
            }
        }

        // After the lead times: a lock-free reader that sees the new map sees them too.
        Map = merged;
        if (!_restamp.IsEmpty)
        {
            // Entries whose record changed since can never match again (a start's epochs only rise).
            _restamp = [.. _restamp.Where(r => NeedsRestamp(Map.Find(r.Start)))];
        }
        return changes;
    }

    /// <summary>
    /// Cuts <paramref name="slice"/> at its middle if its record is still the one held and the
    /// host says this node may commit. Leases on the whole slice covered the upper half too: it
    /// counts as newly led, so no replica is dropped from it before such a lease has run out.
    /// </summary>
    public bool TrySplit(PieSlice slice, long nowMs, bool mayCommit)
    {
        if (!Map.Find(slice.Range.Start).ContentEquals(slice) || !mayCommit)
        {
            return false;
        }

        uint middle = slice.Range.Midpoint;
        Leases = Leases.LedPiece(slice.Range.Start, middle, nowMs);
        if (_unconfirmed.TryGetValue(slice.Range.Start, out Unconfirmed? unconfirmed))
        {
            _unconfirmed = _unconfirmed.SetItem(middle, unconfirmed);
        }

        Map = Map.Split(middle);
        return true;
    }

    /// <summary>
    /// Primary side: a lease until <paramref name="nowMs"/> plus the lease length on each asked
    /// slice this node leads where the asker is in sync, for the record the asker knows (after a
    /// split an older record's lease would cover the other half too), and not being dropped.
    /// The host says whether it may grant at all (not stopping, in touch with a majority).
    /// </summary>
    public List<(uint Start, long Epoch)> Grant(NodeId replica, IEnumerable<(uint Start, long Epoch)> asked, long nowMs, bool mayGrant)
    {
        List<(uint, long)> granted = [];
        if (!mayGrant || replica == _self)
        {
            return granted;
        }

        foreach ((uint start, long epoch) in asked)
        {
            PieSlice slice = Map.Find(start);
            if (slice.Range.Start == start && slice.Epoch == epoch && slice.Primary == _self && slice.IsInSync(replica) && !_dropsPending.ContainsKey((start, replica)) && (_restamp.IsEmpty || !NeedsRestamp(slice)))
            {
                _grantedUntilMs[(start, replica)] = nowMs + _leaseMs;
                granted.Add((start, epoch));
            }
        }

        return granted;
    }

    /// <summary>Primary side: the replica gave its lease back (it is stopping) and may be dropped at once.</summary>
    public void Released(uint sliceStart, NodeId replica) => _grantedUntilMs.Remove((sliceStart, replica));

    /// <summary>Replica side: <paramref name="primary"/> granted leases it asked for at <paramref name="askedAtMs"/>; they run from then, so they end before the primary's record of them.</summary>
    public void Held(NodeId primary, IEnumerable<uint> starts, long askedAtMs) =>
        Leases = Leases.Holding(primary, starts, askedAtMs + _leaseMs);

    /// <summary>Replica side: every lease held is given up (the node is stopping).</summary>
    public void DropAllHeld() => Leases = Leases.HoldingNone();

    /// <summary>Forgets grants that ran out (the host calls it now and then; an ended grant decides nothing).</summary>
    public void ForgetEndedGrants(long nowMs)
    {
        foreach (var key in _grantedUntilMs.Where(g => g.Value <= nowMs).Select(g => g.Key).ToList())
        {
            _grantedUntilMs.Remove(key);
        }
    }

    private bool Release(PendingCommit commit)
    {
        if (commit.Ended)
        {
            return false;
        }

        commit.Ended = true;
        if (commit.Fenced)
        {
            uint start = commit.BasedOn.Range.Start;
            int pending = _handingOver.GetValueOrDefault(start);
            _handingOver = pending <= 1 ? _handingOver.Remove(start) : _handingOver.SetItem(start, pending - 1);
        }

        foreach (NodeId replica in commit.Dropped)
        {
            var key = (commit.BasedOn.Range.Start, replica);
            if (_dropsPending.TryGetValue(key, out int pending))
            {
                if (pending <= 1)
                {
                    _dropsPending.Remove(key);
                }
                else
                {
                    _dropsPending[key] = pending - 1;
                }
            }
        }

        return true;
    }

    private void NoteRecordChange(PieSlice before, PieSlice after, long nowMs)
    {
        if (after.Primary == _self && before.Primary != _self)
        {
            Leases = Leases.LedSince([after.Range.Start], nowMs);
        }

        NoteTakenOut(before, after);
    }

    // A record of a slice this node leads that takes replicas out of the in-sync set; one it came
    // to lead (a takeover, a hand-over) may follow records of its predecessor's that took out
    // anyone, unknown here: no write then until confirmed.
    private void NoteTakenOut(PieSlice before, PieSlice after)
    {
        uint start = after.Range.Start;
        if (after.Primary != _self)
        {
            _unconfirmed = _unconfirmed.Remove(start);
            return;
        }

        bool cameToLead = before.Primary != _self;
        List<NodeId> takenOut = cameToLead
            ? [.. before.Replicas.Union(before.InSync).Union(after.Replicas).Where(n => n != _self)]
            : [.. before.InSync.Where(n => n != _self && !after.IsInSync(n))];
        if (takenOut.Count > 0)
        {
            _unconfirmed.TryGetValue(start, out Unconfirmed? earlier);
            ImmutableArray<NodeId> required = earlier?.Required ?? [];
            _unconfirmed = _unconfirmed.SetItem(start, new Unconfirmed(after.Epoch, [.. required.Union(takenOut)], cameToLead || earlier?.Blocked == true));
        }
    }

    // Until a majority of voters hold this node's record at Epoch or later: the nodes a write must
    // still reach, or (Blocked) no write at all.
    private sealed record Unconfirmed(long Epoch, ImmutableArray<NodeId> Required, bool Blocked = false);
}

/// <summary>A record being committed: by whom, what it was based on, the record, and the replicas it drops from the in-sync set.</summary>
internal sealed class PendingCommit(SliceAuthority owner, PieSlice basedOn, PieSlice next, ImmutableArray<NodeId> dropped)
{
    /// <summary>The authority it was begun on: a commit that outlived a restart of its node is refused by the new one.</summary>
    public SliceAuthority Owner { get; } = owner;

    public PieSlice BasedOn { get; } = basedOn;

    public PieSlice Next { get; } = next;

    public ImmutableArray<NodeId> Dropped { get; } = dropped;

    public bool Ended { get; set; }

    /// <summary>Whether its hand-over fence is up (<see cref="SliceAuthority.FenceHandOver"/>).</summary>
    public bool Fenced { get; set; }

    /// <summary>Whether it takes the primary role from <paramref name="self"/> (a hand-over) rather than keep or take it.</summary>
    public bool HandsOver(NodeId self) => BasedOn.Primary == self && Next.Primary is { } next && next != self;
}

/// <summary>Whether a commit went in; if it did, the record it replaced; if not, why.</summary>
internal readonly record struct CommitOutcome(bool IsCommitted, PieSlice? Replaced, string? Refusal)
{
    public static CommitOutcome Committed(PieSlice replaced) => new(true, replaced, null);

    public static CommitOutcome Refused(string reason) => new(false, null, reason);
}
