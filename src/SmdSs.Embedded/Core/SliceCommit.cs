using SmdSs.Model;

namespace SmdSs.Core;

/// <summary>What the host does next for a slice record being committed (<see cref="SliceCommit.Step"/>).</summary>
internal enum CommitStepKind
{
    /// <summary>Ask again at <see cref="CommitStep.AtMs"/>: a dropped replica's lease runs on, or this node's writes in flight on a slice it hands over.</summary>
    Wait,

    /// <summary>Send the slice's pending sliding renewals to its replicas (the primary role leaves this node), then ask again.</summary>
    SendPendingRenewals,

    /// <summary>Ready: the host tells <see cref="SliceCommit.End"/> whether this node may commit now (a majority in contact, and whatever the change depends on).</summary>
    Decide,

    /// <summary>Over without a commit: writes in flight outlasted the hand-over's wait, or the commit had already ended.</summary>
    GiveUp,
}

/// <summary>One step of a slice commit; <see cref="AtMs"/> is on the host's monotonic clock, for <see cref="CommitStepKind.Wait"/>.</summary>
internal readonly record struct CommitStep(CommitStepKind Kind, long AtMs = 0);

/// <summary>
/// How a committed record goes on: the host persists the maps first (a record is never sent
/// before it is in the state file), then, when <see cref="InheritsAnswers"/>, takes the
/// operation answers of the slices it came to lead, forgets hints its replicas no longer need,
/// pushes the record to the replicas, and, when <see cref="AsksConfirmation"/>, sends it round
/// at once for a majority to hold (<see cref="SliceAuthority.UnconfirmedRecords"/>) rather than next round.
/// </summary>
internal readonly record struct CommitResult(CommitOutcome Outcome, bool InheritsAnswers, bool AsksConfirmation)
{
    public bool IsCommitted => Outcome.IsCommitted;
}

/// <summary>
/// The commit of one slice record by this node, as a state machine over plain data that the
/// host and the placement simulation both run: begun on the <see cref="SliceAuthority"/> (the
/// replicas it drops get no lease from now on), it waits until the leases they hold ran out;
/// a hand-over of the primary role (not a goodbye's or a step-down's, which refuse every write
/// and wait for those in flight themselves) then raises its fence (no new write of the slice)
/// and waits up to <see cref="HandOverWritesWaitMs"/> for this node's writes in flight there,
/// while the record is still the one it was based on, and sends the slice's pending sliding
/// renewals; then the host decides. No clock: the host passes its monotonic time to each call,
/// and sleeps until a <see cref="CommitStepKind.Wait"/>'s time. Not thread-safe: the host calls
/// it under the lock it holds the authority with.
/// </summary>
internal sealed class SliceCommit
{
    /// <summary>How long a hand-over waits for this node's writes in flight on the slice before it gives up (the next round tries again).</summary>
    public const long HandOverWritesWaitMs = 5_000;

    private readonly SliceAuthority _authority;
    private readonly NodeId _self;
    private readonly PendingCommit _commit;
    private readonly long _pollMs;
    private long? _givesUpAtMs;
    private bool _renewalsSent;

    /// <summary>Begins committing <paramref name="next"/> over <paramref name="basedOn"/>; a hand-over polls this node's writes in flight every <paramref name="pollMs"/>.</summary>
    public SliceCommit(SliceAuthority authority, NodeId self, PieSlice basedOn, PieSlice next, long pollMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pollMs);
        _authority = authority;
        _self = self;
        _pollMs = pollMs;
        _commit = authority.BeginCommit(basedOn, next);
    }

    public PieSlice BasedOn => _commit.BasedOn;

    public PieSlice Next => _commit.Next;

    /// <summary>Whether this commit hands the primary role from this node to another.</summary>
    public bool HandsOver => _commit.HandsOver(_self);

    /// <summary>Whether a hand-over waited for writes in flight (the simulation counts them).</summary>
    public bool WaitedForWrites { get; private set; }

    /// <summary>
    /// The next step at <paramref name="nowMs"/>: <paramref name="withdrawn"/> when this node is
    /// saying goodbye or stepping down, <paramref name="writingInSlice"/> when writes of this node
    /// are in flight on the slice's range.
    /// </summary>
    public CommitStep Step(long nowMs, bool withdrawn, bool writingInSlice)
    {
        if (_commit.Ended)
        {
            return new CommitStep(CommitStepKind.GiveUp);
        }

        long readyAtMs = _authority.ReadyAtMs(_commit);
        if (readyAtMs > nowMs)
        {
            return new CommitStep(CommitStepKind.Wait, readyAtMs);
        }

        // Once up, the fence stays and its wait goes on, also if a goodbye or a step-down began meanwhile.
        if (HandsOver && (!withdrawn || _givesUpAtMs is not null))
        {
            if (_givesUpAtMs is null)
            {
                // From here no write of the slice begins: the next primary must hold every one in
                // flight, or a write that missed it takes it out of the in-sync set first (that
                // commit changes the record, and this one is then refused). Asked again at once:
                // the host read its writes in flight before the fence went up, and a renewal a read
                // made before now goes after the wait.
                _authority.FenceHandOver(_commit);
                _givesUpAtMs = nowMs + HandOverWritesWaitMs;
                _renewalsSent = false;
                return new CommitStep(CommitStepKind.Wait, nowMs);
            }

            if (writingInSlice)
            {
                if (nowMs < _givesUpAtMs && _authority.Map.Find(BasedOn.Range.Start).ContentEquals(BasedOn))
                {
                    WaitedForWrites = true;
                    return new CommitStep(CommitStepKind.Wait, nowMs + _pollMs);
                }

                _authority.Abandon(_commit);
                return new CommitStep(CommitStepKind.GiveUp);
            }
        }

        if (HandsOver && !_renewalsSent)
        {
            // The next primary must not expire an entry a read here just renewed.
            _renewalsSent = true;
            return new CommitStep(CommitStepKind.SendPendingRenewals);
        }

        return new CommitStep(CommitStepKind.Decide);
    }

    /// <summary>
    /// Ends the commit at <paramref name="nowMs"/>: the record goes in when it is ready, still
    /// based on the current one, and <paramref name="mayCommit"/>. Either way its drops end.
    /// </summary>
    public CommitResult End(long nowMs, bool mayCommit)
    {
        CommitOutcome outcome = _authority.EndCommit(_commit, nowMs, mayCommit);
        if (!outcome.IsCommitted)
        {
            return new CommitResult(outcome, InheritsAnswers: false, AsksConfirmation: false);
        }

        uint start = Next.Range.Start;
        return new CommitResult(
            outcome,
            InheritsAnswers: Next.Primary == _self && BasedOn.Primary != _self,
            AsksConfirmation: !_authority.WriteRequires(start).IsEmpty || _authority.IsWriteBlocked(start));
    }

    /// <summary>Ends the commit without committing (the host gave up: stopping, an exception).</summary>
    public void Abandon() => _authority.Abandon(_commit);
}
