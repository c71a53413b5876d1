using SmdSs.Membership;
using SmdSs.Model;

namespace SmdSs.Core;

/// <summary>
/// The rounds in which this node, as a primary, finds out that a majority of voters hold a
/// record of its own that took replicas out of the in-sync set (or that it came to lead): until
/// then its writes must also reach the replicas the record took out
/// (<see cref="SliceAuthority.WriteRequires"/>). A round sends the record to every reachable
/// peer, which merges it and answers with its own record of the slice; the record is confirmed
/// as soon as the answers make a majority (this node included), not after the slowest, and at
/// once where there is no majority to keep (two voters or fewer). One round per slice at a time,
/// and a newer record of the slice starts its own. Run by the host and the placement simulation
/// alike; not thread-safe: the host calls it under the lock it holds the authority with.
/// </summary>
internal sealed class RecordConfirmations(NodeId self)
{
    private readonly Dictionary<uint, Round> _rounds = [];

    /// <summary>Whether a round for the slice at <paramref name="start"/> is under way.</summary>
    public bool IsAsking(uint start) => _rounds.ContainsKey(start);

    /// <summary>
    /// Begins a round for every record <paramref name="authority"/> holds unconfirmed that has no
    /// round of its epoch or a newer one under way; those that need no answer are confirmed at
    /// once. Returns the records to send round, each to every reachable peer.
    /// </summary>
    public List<PieSlice> Begin(SliceAuthority authority, IReadOnlyCollection<NodeId> voters)
    {
        var ask = new List<PieSlice>();
        foreach (PieSlice record in authority.UnconfirmedRecords())
        {
            uint start = record.Range.Start;
            if (_rounds.TryGetValue(start, out Round? running) && running.Epoch >= record.Epoch)
            {
                continue;
            }

            var round = new Round(record.Epoch, [self]);
            _rounds[start] = round;
            if (!Decide(authority, record, round, voters))
            {
                ask.Add(record);
            }
        }

        return ask;
    }

    /// <summary>
    /// <paramref name="peer"/> answered the round of <paramref name="record"/> with its own record
    /// of the slice (<paramref name="theirs"/>; null: not a holder). True when the round is over:
    /// confirmed now or before, or replaced by a newer record's.
    /// </summary>
    public bool Answered(SliceAuthority authority, PieSlice record, NodeId peer, PieSlice? theirs, IReadOnlyCollection<NodeId> voters)
    {
        if (!_rounds.TryGetValue(record.Range.Start, out Round? round) || round.Epoch != record.Epoch)
        {
            return true;
        }

        if (theirs is not null && theirs.ContentEquals(record))
        {
            round.Holders.Add(peer);
        }

        return Decide(authority, record, round, voters);
    }

    /// <summary>The round of <paramref name="record"/> ended unconfirmed (every peer answered, or the host's timeout): the next <see cref="Begin"/> asks again.</summary>
    public void Ended(PieSlice record)
    {
        if (_rounds.TryGetValue(record.Range.Start, out Round? round) && round.Epoch == record.Epoch)
        {
            _rounds.Remove(record.Range.Start);
        }
    }

    private bool Decide(SliceAuthority authority, PieSlice record, Round round, IReadOnlyCollection<NodeId> voters)
    {
        if (MajorityContact.HasMajorityToKeep(self, voters) && !Quorum.Holds(self, voters, round.Holders.Contains))
        {
            return false;
        }

        authority.Confirmed(record.Range.Start, record.Epoch);
        _rounds.Remove(record.Range.Start);
        return true;
    }

    private sealed record Round(long Epoch, HashSet<NodeId> Holders);
}
