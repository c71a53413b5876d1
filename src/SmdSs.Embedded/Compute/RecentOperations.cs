using System.Collections.Concurrent;
using SmdSs.Model;

namespace SmdSs.Compute;

/// <summary>
/// The answers of recent non-idempotent operations (increments, appends, swaps, processors) by
/// operation id, so that a caller retrying after a lost answer or a failover gets the first
/// answer instead of applying the operation twice. The primary records an answer when it applies
/// the operation and sends it with the write to the replicas, which record it too; a catch-up
/// sends a new replica the answers of its slice's keys. So a node that takes a slice over knows
/// the operations behind the values it holds. Kept for <see cref="RetentionMs"/>, longer than any
/// caller retries (RequestTimeout), at most <see cref="MaxEntries"/> and <see cref="MaxBytes"/>
/// (answers come from peers too), and counted against the node's memory budget.
/// </summary>
internal sealed class RecentOperations(long retentionMs)
{
    public const int MaxEntries = 200_000;

    /// <summary>
    /// The most bytes of answers kept: 256 MiB (the oldest go first; a retry of an operation
    /// whose answer went early may apply it again). Answers are small but for entry processors'
    /// (up to <see cref="SmdSsLimits.MaxReplyBytes"/>), and peers send them too.
    /// </summary>
    public const long MaxBytes = 256L << 20;

    private readonly ConcurrentDictionary<ulong, OperationAnswer> _answers = new();
    private readonly ConcurrentQueue<(ulong Id, long AtMs)> _order = new();
    private Storage.MemoryBudget? _budget;
    private long _bytes;

    public long RetentionMs { get; } = retentionMs;

    public int Count => _answers.Count;

    /// <summary>Bytes of the answers kept, with their bookkeeping.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Counts the answers' bytes against <paramref name="budget"/> from now on (the node's store, once it is open).</summary>
    public void CountAgainst(Storage.MemoryBudget budget)
    {
        _budget = budget;
        budget.Add(Bytes);
    }

    public bool TryGet(ulong operationId, out byte[] answer)
    {
        bool found = _answers.TryGetValue(operationId, out OperationAnswer entry);
        answer = entry.Answer;
        return found;
    }

    public void Add(OperationAnswer answer, long nowMs)
    {
        if (_answers.TryAdd(answer.Id, answer))
        {
            _order.Enqueue((answer.Id, nowMs));
            CountBytes(SizeOf(answer));
        }

        Trim(nowMs);
    }

    /// <summary>
    /// Keeps <paramref name="answer"/> in place of any other answer of the same operation: the
    /// value it came with replaced this node's, so that value's history is the one whose answer
    /// counts (an operation applied in doubt by a primary that lost the slice, whose value was
    /// then wiped, was applied again by the next primary with another answer).
    /// </summary>
    public void Set(OperationAnswer answer, long nowMs)
    {
        // In place, never absent meanwhile: a retry that looks in between must find an answer.
        long replaced = 0;
        OperationAnswer kept = _answers.AddOrUpdate(answer.Id, answer, (_, held) =>
        {
            replaced = SizeOf(held);
            return answer;
        });
        if (replaced == 0)
        {
            _order.Enqueue((answer.Id, nowMs));
        }

        CountBytes(SizeOf(kept) - replaced);
        Trim(nowMs);
    }

    /// <summary>Forgets an answer whose effect the key's value no longer holds (see <c>SmdSsNode.ForgetOwnInDoubt</c>).</summary>
    public void Remove(ulong operationId)
    {
        if (_answers.TryRemove(operationId, out OperationAnswer removed))
        {
            CountBytes(-SizeOf(removed));
        }
    }

    /// <summary>The answers of operations on keys in <paramref name="range"/> (for a catch-up of that slice).</summary>
    public List<OperationAnswer> InRange(SliceRange range) => [.. _answers.Values.Where(a => range.Contains(a.KeyHash))];

    /// <summary>The answers of operations on keys in <paramref name="ranges"/>, oldest first (for a node that comes to lead those slices: see <see cref="InDoubtOperations.Inherit"/>).</summary>
    public List<OperationAnswer> InRangesOldestFirst(IReadOnlyCollection<SliceRange> ranges)
    {
        if (ranges.Count == 0 || _answers.IsEmpty)
        {
            return [];
        }

        // An answer set again after a removal is queued twice: its later place counts.
        var order = new Dictionary<ulong, int>();
        int position = 0;
        foreach ((ulong id, long _) in _order)
        {
            order[id] = position++;
        }

        return [.. _answers.Values.Where(a => ranges.Any(r => r.Contains(a.KeyHash))).OrderBy(a => order.GetValueOrDefault(a.Id, int.MaxValue))];
    }

    /// <summary>The answers of operations on <paramref name="keys"/> (for an anti-entropy repair of those keys).</summary>
    public List<OperationAnswer> OfKeys(IEnumerable<string> keys)
    {
        HashSet<uint> hashes = [.. keys.Select(Hashing.KeyHash.Of)];
        return hashes.Count == 0 ? [] : [.. _answers.Values.Where(a => hashes.Contains(a.KeyHash))];
    }

    /// <summary>Forgets answers older than the retention, and the oldest beyond the size bounds.</summary>
    public void Trim(long nowMs)
    {
        while (_order.TryPeek(out (ulong Id, long AtMs) oldest) && (oldest.AtMs < nowMs - RetentionMs || _order.Count > MaxEntries || Bytes > MaxBytes))
        {
            if (_order.TryDequeue(out oldest))
            {
                Remove(oldest.Id);
            }
        }
    }

    // The answer, its id and key hash, and the dictionary's and queue's own entries.
    private static long SizeOf(OperationAnswer answer) => answer.Answer.Length + 64;

    private void CountBytes(long bytes)
    {
        Interlocked.Add(ref _bytes, bytes);
        _budget?.Add(bytes);
    }
}
