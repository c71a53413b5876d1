using SmdSs.Core;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>A renewal of a sliding entry: the version of the entry it moved, and its new deadline.</summary>
internal readonly record struct Touch(string Key, long Version, long DeadlineMs);

/// <summary>
/// The answer to a batch of touches, as a Replicate's reply: an error (the sender sends them
/// again), or Ok from a node that is not the slice's primary (nothing confirmed), or the
/// primary's Ok naming the touches it did not take.
/// </summary>
internal sealed record TouchAnswer(bool Error, bool NotPrimary, IReadOnlySet<string> Refused);

/// <summary>
/// Sliding expiration as <c>SmdSsNode.Expiry</c> and the read path run it (the rule:
/// <see cref="SlidingRenewal"/>), in virtual time, over the real <see cref="StoredEntry"/> (its
/// deadline, the part the primary is known to hold, the primary's claim) and the real rule's
/// decisions. Reads slide the entry where they are answered: a replica with a lease answers
/// only far from the deadline the primary is known to hold, else the primary answers; a new
/// primary counts an entry expired only 3 s past its deadline. Once a second a node persists
/// the deadlines that moved and sends the renewals its reads made to the slice's other replicas;
/// the primary's answer confirms them (or names those it refused: expired there), and the
/// primary sends on the renewals it took; then a primary in contact with a majority claims and
/// deletes the sliding entries expired on its clock, replicated like a write. A hand-over sends
/// the slice's pending renewals first; a catch-up carries the deadlines in memory (a delta
/// carries the renewals of older entries). Not simulated: absolute expirations, the replica's
/// safety net past the tombstone retention, compaction (which writes a renewed deadline into
/// the Put), degraded reads.
/// </summary>
internal sealed partial class SimPlacementNode
{
    // As the maintenance loop's period.
    private const int MaintenanceMs = 1_000;

    // The in-memory index of sliding entries (the node's StoredEntry of each), and the keys whose
    // deadline moved: by a read here or relayed as the primary (sent on), or only to persist.
    private readonly Dictionary<string, StoredEntry> _slidingEntries = new(StringComparer.Ordinal);
    private readonly HashSet<string> _touched = new(StringComparer.Ordinal);
    private readonly HashSet<string> _persistOnlyTouches = new(StringComparer.Ordinal);

    // As SliceStore's noted expiries (reads at the primary that found an entry expired), and the time of the last sweep.
    private readonly HashSet<string> _expiredSeen = new(StringComparer.Ordinal);
    private long _lastSweepMs;

    // As ExpirationScanInterval: a sweep finds every expired entry; between sweeps, only those reads noted.
    private const long SweepMs = 60_000;

    // As the store's load: a Put's deadline, moved by the Touch records after it.
    private static StoredEntry EntryOf(string key, StoredValue value)
    {
        var entry = new StoredEntry(key, value.Version, new EntryExpiry(0, value.SlidingMs, value.DeadlineMs), [], 0, 0, 0);
        entry.ExtendDeadline(value.TouchedMs);
        return entry;
    }

    // Every change of the files goes through Store, which keeps the index in step: a new version is a new entry.
    private void IndexSliding(string key, StoredValue? value)
    {
        if (value is not { Value: not null, SlidingMs: > 0 } live)
        {
            _slidingEntries.Remove(key);
            return;
        }

        if (!_slidingEntries.TryGetValue(key, out StoredEntry? entry) || entry.Version != live.Version)
        {
            _slidingEntries[key] = EntryOf(key, live);
        }
    }

    private void StartSliding(long life)
    {
        _slidingEntries.Clear();
        _touched.Clear();
        _persistOnlyTouches.Clear();
        _expiredSeen.Clear();
        _lastSweepMs = long.MinValue / 2;
        foreach ((string key, StoredValue value) in _store.Where(e => e.Value is { Value: not null, SlidingMs: > 0 }))
        {
            _slidingEntries[key] = EntryOf(key, value);
        }

        if (sim.Scope.SlidingExpiry)
        {
            sim.After(sim.Random.Next(1, MaintenanceMs), () => Maintain(life));
        }
    }

    /// <summary>What this node sends of a key (a catch-up, a repair): its record with the deadline in memory.</summary>
    private StoredValue Outgoing(string key, StoredValue value) =>
        _slidingEntries.TryGetValue(key, out StoredEntry? entry) && entry.Version == value.Version
            ? value with { DeadlineMs = entry.DeadlineMs, TouchedMs = 0 }
            : value;

    // As ChangesSince: an entry this primary reads as expired is not sent (a new primary's leniency allowed for).
    private bool ExpiredHere(string key) =>
        _slidingEntries.TryGetValue(key, out StoredEntry? entry) && entry.IsExpiredAt(PrimaryExpiryNowMs(View.Find(KeyHash.Of(key)).Range.Start));

    // As ChangesSince: the renewals read since of the sliding entries older than the delta's base.
    private List<Touch> TouchesSince(SliceRange range, long since)
    {
        long sinceMs = HybridTimestamp.PhysicalMsOf(since);
        return [.. _slidingEntries.Values
            .Where(e => range.Contains(KeyHash.Of(e.Key)) && e.Version < since && !ExpiredHere(e.Key) && e.DeadlineMs - e.SlidingMs >= sinceMs)
            .OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => new Touch(e.Key, e.Version, e.DeadlineMs))];
    }

    /// <summary>
    /// A client's Set of <paramref name="key"/> with a sliding window, its deadline from this
    /// node's clock (as SetAsync's EntryExpiry.FromOptions); <paramref name="applied"/> learns the
    /// version of each attempt a primary applied (the simulation's ghost record).
    /// </summary>
    public void WriteSliding(string key, string value, long slidingMs, Action<long> applied, Action<DataReply?> done)
    {
        long deadlineMs = WallNowMs + slidingMs;
        Forward(KeyHash.Of(key), (primary, reply) => primary.OnForwardedSlidingWrite(key, value, slidingMs, deadlineMs, applied, reply), done);
    }

    private void OnForwardedSlidingWrite(string key, string value, long slidingMs, long deadlineMs, Action<long> applied, Action<DataReply> reply)
    {
        PieSlice slice = View.Find(KeyHash.Of(key));
        if (slice.Primary != Id || Withdrawn || !_confirmed)
        {
            reply(new DataReply(DataError.NotPrimary));
            return;
        }

        if (WriteReplication.RefusalBeforeApply(slice, _slices.WriteRequires(slice.Range.Start), _slices.IsWriteBlocked(slice.Range.Start), IsReachable, HandingOver(key)) is not null)
        {
            reply(new DataReply(DataError.Unavailable));
            return;
        }

        // As WriteAsPrimaryAsync: the window runs from now at the earliest (EntryExpiry.AppliedAt).
        EntryExpiry expiry = new EntryExpiry(0, slidingMs, deadlineMs).AppliedAt(WallNowMs);
        var written = new StoredValue(_clock.Next(WallNowMs), value, SlidingMs: slidingMs, DeadlineMs: expiry.DeadlineMs);
        Apply(key, written);
        applied(written.Version);
        Replicate(slice, key, written, reply);
    }

    /// <summary>A client's Get (or Refresh) of a sliding key at this node: from its own copy where the rule allows, else from the primary.</summary>
    public void ReadSliding(string key, Action<DataReply?> done)
    {
        uint hash = KeyHash.Of(key);
        PieSlice slice = View.Find(hash);
        if (CanReadLocally(slice) && ReadSlidingHere(key, slice, asPrimary: slice.Primary == Id) is { } local)
        {
            done(local);
            return;
        }

        Forward(hash, (primary, reply) => primary.OnForwardedSlidingRead(key, reply), done);
    }

    // As OnForwardedAsync for Get: the primary always answers (null only from a replica).
    private void OnForwardedSlidingRead(string key, Action<DataReply> reply)
    {
        PieSlice slice = View.Find(KeyHash.Of(key));
        reply(RefusalAsReadPrimary(slice) ?? ReadSlidingHere(key, slice, asPrimary: true)!);
    }

    // As TryReadLocal, Lookup and Slide: null when a replica must leave the read to the primary.
    private DataReply? ReadSlidingHere(string key, PieSlice slice, bool asPrimary)
    {
        // Absent, with the version this copy held (the simulation's record: an expired entry's, a delete's, 0 for none).
        DataReply Absent(long held) => new(DataError.None, Version: held, Answerer: Id);
        if (!_slidingEntries.TryGetValue(key, out StoredEntry? entry))
        {
            if (sim.Detailed)
            {
                sim.Note($"{Id} reads {key} as {(asPrimary ? "primary" : "replica")} of {slice.Range.Start:x8} e{slice.Epoch}: not held{(_store.TryGetValue(key, out StoredValue gone) ? $" (v{gone.Version} {(gone.Value is null ? "deleted" : "not sliding")})" : "")}");
            }

            return Absent(_store.TryGetValue(key, out StoredValue deleted) ? deleted.Version : 0);
        }

        long now = WallNowMs;
        if (sim.Detailed)
        {
            sim.Note($"{Id} reads {key} v{entry.Version} as {(asPrimary ? IsNewPrimary(slice.Range.Start) ? "new primary" : "primary" : "replica")} of {slice.Range.Start:x8} e{slice.Epoch}: deadline {entry.DeadlineMs - now} ms ahead, the primary's {entry.PrimaryDeadlineMs - now} ms");
        }

        if (!asPrimary && !SlidingRenewal.ReplicaMayAnswer(entry, now))
        {
            return null;
        }

        if (entry.IsExpiredAt(now) && (!asPrimary || !IsNewPrimary(slice.Range.Start) || SlidingRenewal.IsExpiredAllowingLag(entry, now)))
        {
            if (asPrimary)
            {
                // As NoteExpired: the next expiry round deletes it.
                _expiredSeen.Add(key);
            }

            return Absent(entry.Version);
        }

        bool lenient = entry.IsExpiredAt(now);
        if (SlidingRenewal.Slide(entry, now, atPrimary: asPrimary))
        {
            _touched.Add(key);
        }

        // The primary's expiry that claimed it first wins: it reads as gone.
        if (entry.IsClaimedForExpiry)
        {
            return Absent(entry.Version);
        }

        sim.Sliding.Answered(key, this, entry.Version, lenient);
        return new DataReply(DataError.None, entry.Version, _store[key].Value, Id);
    }

    // As IsNewPrimary: this node came to lead the slice less than the touch propagation bound ago.
    private bool IsNewPrimary(uint start) => sim.NowMs - _slices.Leases.TookOverSince(start) < SlidingRenewal.PropagationBoundMs;

    private long PrimaryExpiryNowMs(uint start) => WallNowMs - (IsNewPrimary(start) ? SlidingRenewal.PropagationBoundMs : 0);

    // As RunMaintenance: the renewals first (their trip to the primary is on the clock), then the expiry round.
    private void Maintain(long life)
    {
        if (!Alive(life))
        {
            return;
        }

        sim.After(MaintenanceMs, () => Maintain(life));
        foreach (IGrouping<uint, Touch> slice in FlushTouches(range: null).GroupBy(t => View.Find(KeyHash.Of(t.Key)).Range.Start))
        {
            SendTouches(View.Find(slice.Key), [.. slice], life);
        }

        ExpireRound();
    }

    // As FlushTouches: every moved deadline goes into the files; returns the renewals to send on.
    private List<Touch> FlushTouches(SliceRange? range)
    {
        var local = new List<Touch>();
        foreach (string key in _touched.Where(k => range?.Contains(KeyHash.Of(k)) != false).Order(StringComparer.Ordinal).ToList())
        {
            _touched.Remove(key);
            if (_slidingEntries.TryGetValue(key, out StoredEntry? entry))
            {
                local.Add(new Touch(key, entry.Version, entry.DeadlineMs));
                PersistDeadline(key, entry);
            }
        }

        foreach (string key in _persistOnlyTouches.Where(k => range?.Contains(KeyHash.Of(k)) != false).Order(StringComparer.Ordinal).ToList())
        {
            _persistOnlyTouches.Remove(key);
            if (_slidingEntries.TryGetValue(key, out StoredEntry? entry))
            {
                PersistDeadline(key, entry);
            }
        }

        return local;
    }

    private void PersistDeadline(string key, StoredEntry entry)
    {
        StoredValue held = _store[key];
        Store(key, held with { TouchedMs = Math.Max(held.TouchedMs, entry.DeadlineMs) });
    }

    // As SendTouches: to every reachable replica but this node; the primary's answer confirms
    // them, and they are sent again next round when the primary could not be sent them or failed.
    private void SendTouches(PieSlice slice, List<Touch> touches, long life, Action? answered = null)
    {
        List<NodeId> to = [.. slice.Replicas.Where(n => n != Id && IsReachable(n))];
        int pending = to.Count;
        void Answered()
        {
            if (--pending == 0)
            {
                answered?.Invoke();
            }
        }

        if (pending == 0)
        {
            answered?.Invoke();
        }

        foreach (NodeId replica in to)
        {
            bool toPrimary = replica == slice.Primary;
            bool over = false;
            void Reply(TouchAnswer? answer)
            {
                if (over)
                {
                    return;
                }

                // Called once per replica, also after this process died (the caller looks).
                over = true;
                if (toPrimary && Alive(life))
                {
                    ConfirmTouches(answer, touches);
                }

                Answered();
            }

            sim.Send(this, replica, r =>
            {
                TouchAnswer answer = r.OnTouches(Id, slice, touches);
                sim.Send(r, Id, _ => Reply(answer), lossless: true);
            }, lossless: true);
            sim.After(AckTimeoutMs, () => Reply(null));
        }

        if (!to.Contains(slice.Primary ?? default) && slice.Primary is { } primary && primary != Id)
        {
            RetryTouches(touches);
        }
    }

    // As ConfirmTouchesAsync: no answer or an error, sent again; the primary's Ok confirms the ones it took.
    private void ConfirmTouches(TouchAnswer? answer, List<Touch> touches)
    {
        if (answer is null || answer.Error)
        {
            RetryTouches(touches);
            return;
        }

        if (answer.NotPrimary)
        {
            return;
        }

        foreach (Touch touch in touches.Where(t => !answer.Refused.Contains(t.Key)))
        {
            if (_slidingEntries.TryGetValue(touch.Key, out StoredEntry? entry) && entry.Version == touch.Version)
            {
                entry.ConfirmDeadline(touch.DeadlineMs);
            }
        }
    }

    private void RetryTouches(List<Touch> touches)
    {
        foreach (Touch touch in touches)
        {
            _touched.Add(touch.Key);
        }
    }

    // As OnReplicateAsync for touches, which come from any replica: a sender that claims a newer
    // record than this node's has it fetched (here: the record it sent); a sender that is not the
    // primary with an older record, or a slice this node does not have, is refused.
    private TouchAnswer OnTouches(NodeId from, PieSlice senderRecord, List<Touch> touches)
    {
        uint start = senderRecord.Range.Start;
        if (View.Find(start).Primary != from && senderRecord.Epoch > View.Find(start).Epoch)
        {
            MergeSlices([senderRecord]);
        }

        PieSlice slice = View.Find(start);
        if (slice.Range.Start != start || (slice.Epoch > senderRecord.Epoch && slice.Primary != from))
        {
            if (sim.Detailed)
            {
                sim.Note($"{Id} refuses {from}'s touches of {string.Join(",", touches.Select(t => t.Key))}: its record of {start:x8} is e{slice.Epoch} from {slice.Range.Start:x8}, the sender's e{senderRecord.Epoch}");
            }

            return new TouchAnswer(Error: true, NotPrimary: false, new HashSet<string>());
        }

        var refused = new HashSet<string>(StringComparer.Ordinal);
        foreach (Touch touch in touches)
        {
            if (!ApplyTouch(from, slice, touch) && slice.Primary == Id)
            {
                refused.Add(touch.Key);
            }
        }

        return new TouchAnswer(Error: false, NotPrimary: slice.Primary != Id, refused);
    }

    // As ApplyTouch and SliceStore.ApplyTouch, through the real SlidingRenewal.Land: true when this node is the primary and holds that deadline now.
    private bool ApplyTouch(NodeId from, PieSlice slice, Touch touch)
    {
        bool selfPrimary = slice.Primary == Id;
        _slidingEntries.TryGetValue(touch.Key, out StoredEntry? entry);
        TouchLanding landing = SlidingRenewal.Land(
            entry, touch.Version, touch.DeadlineMs, fromPrimary: slice.Primary == from, refuseExpiredAtMs: selfPrimary ? PrimaryExpiryNowMs(slice.Range.Start) : 0);
        if (sim.Detailed)
        {
            sim.Note(landing == TouchLanding.Refused
                ? $"{Id} refuses {from}'s touch of {touch.Key} v{touch.Version} (holds v{entry?.Version}, deadline {entry?.DeadlineMs - WallNowMs} ms ahead)"
                : $"{Id} takes {from}'s touch of {touch.Key} v{touch.Version} to {touch.DeadlineMs - WallNowMs} ms ahead{(landing == TouchLanding.Moved ? "" : " (no move)")}");
        }

        if (landing == TouchLanding.Refused)
        {
            return false;
        }

        if (landing == TouchLanding.Moved)
        {
            (selfPrimary ? _touched : _persistOnlyTouches).Add(touch.Key);
        }

        return selfPrimary && SlidingRenewal.PrimaryHolds(entry!, touch.Version, touch.DeadlineMs);
    }

    // As a catch-up's Touch record from the primary: the deadline moves, and the primary holds it.
    private void ApplyTouchFromPrimary(Touch touch)
    {
        if (sim.Detailed)
        {
            sim.Note($"{Id} takes the primary's deadline of {touch.Key} v{touch.Version} to {touch.DeadlineMs - WallNowMs} ms ahead (holds v{(_slidingEntries.TryGetValue(touch.Key, out StoredEntry? held) ? held.Version : 0)})");
        }

        _slidingEntries.TryGetValue(touch.Key, out StoredEntry? entry);
        if (SlidingRenewal.Land(entry, touch.Version, touch.DeadlineMs, fromPrimary: true, refuseExpiredAtMs: 0) == TouchLanding.Moved)
        {
            _persistOnlyTouches.Add(touch.Key);
        }
    }

    // As ExpireRound and ExpireBatchAsync: a primary in contact with a majority (or without one
    // to keep) takes the entries reads noted expired in slices it leads (and on a sweep, once a
    // minute, every expired one); each still expired, in a slice it is not handing over, it
    // claims and deletes at a new version, replicated like a write. Others forget their notes.
    private void ExpireRound()
    {
        bool mayExpire = !Withdrawn && _confirmed && (HasReadQuorum() || !MajorityContact.HasMajorityToKeep(Id, Voters()));
        bool sweep = sim.NowMs - _lastSweepMs >= SweepMs;
        List<string> noted = [.. _expiredSeen.Order(StringComparer.Ordinal)];
        _expiredSeen.Clear();
        if (!mayExpire)
        {
            return;
        }

        _lastSweepMs = sweep ? sim.NowMs : _lastSweepMs;
        IEnumerable<string> candidates = sweep ? _slidingEntries.Keys.Order(StringComparer.Ordinal).ToList() : noted;
        foreach (string key in candidates)
        {
            PieSlice slice = View.Find(KeyHash.Of(key));
            if (slice.Primary != Id || !_slidingEntries.TryGetValue(key, out StoredEntry? entry) || !entry.IsExpiredAt(PrimaryExpiryNowMs(slice.Range.Start)))
            {
                continue;
            }

            if (_slices.IsHandingOver(slice.Range.Start) || !entry.TryClaimExpiry(PrimaryExpiryNowMs(slice.Range.Start)))
            {
                continue;
            }

            var delete = new StoredValue(_clock.Next(WallNowMs), null);
            Apply(key, delete);
            sim.Sliding.Expired(key, Id, entry.Version, delete.Version);
            sim.SlidingExpiries++;
            sim.Note($"{Id} expires {key} v{entry.Version}");
            if (slice.Replicas.Length > 1)
            {
                Replicate(slice, key, delete, _ => { });
            }
        }
    }

    // As SendPendingTouchesAsync, before a hand-over: the slice's renewals reach its replicas first.
    private void SendPendingTouches(PieSlice slice, long life, Action then)
    {
        List<Touch> touches = FlushTouches(slice.Range);
        if (touches.Count == 0)
        {
            then();
            return;
        }

        SendTouches(slice, touches, life, then);
    }
}
