using System.Collections.Concurrent;
using SmdSs.Placement;
using SmdSs.Protocol;

namespace SmdSs.Compute;

/// <summary>
/// The answers of recent non-idempotent operations (increments, appends, swaps, processors) by
/// operation id, so that a caller retrying after a lost answer or a failover gets the first
/// answer instead of applying the operation twice. The primary records an answer when it applies
/// the operation and sends it with the write to the replicas, which record it too; a catch-up
/// sends a new replica the answers of its slice's keys. So a node that takes a slice over knows
/// the operations behind the values it holds. Kept for <see cref="RetentionMs"/>, longer than any
/// caller retries (RequestTimeout), and at most <see cref="MaxEntries"/>.
/// </summary>
internal sealed class RecentOperations(long retentionMs)
{
    public const int MaxEntries = 200_000;
    private readonly ConcurrentDictionary<ulong, OperationAnswer> _answers = new();
    private readonly ConcurrentQueue<(ulong Id, long AtMs)> _order = new();

    public long RetentionMs { get; } = retentionMs;

    public int Count => _answers.Count;

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
        }

        Trim(nowMs);
    }

    /// <summary>Forgets an answer whose effect the key's value no longer holds (see <c>SmdSsNode.ForgetOwnInDoubt</c>).</summary>
    public void Remove(ulong operationId) => _answers.TryRemove(operationId, out _);

    /// <summary>The answers of operations on keys in <paramref name="range"/> (for a catch-up of that slice).</summary>
    public List<OperationAnswer> InRange(SliceRange range) => [.. _answers.Values.Where(a => range.Contains(a.KeyHash))];

    /// <summary>The answers of operations on <paramref name="keys"/> (for an anti-entropy repair of those keys).</summary>
    public List<OperationAnswer> OfKeys(IEnumerable<string> keys)
    {
        HashSet<uint> hashes = [.. keys.Select(Hashing.KeyHash.Of)];
        return hashes.Count == 0 ? [] : [.. _answers.Values.Where(a => hashes.Contains(a.KeyHash))];
    }

    /// <summary>Forgets answers older than the retention, and the oldest beyond the size bound.</summary>
    public void Trim(long nowMs)
    {
        while (_order.TryPeek(out (ulong Id, long AtMs) oldest) && (oldest.AtMs < nowMs - RetentionMs || _order.Count > MaxEntries))
        {
            if (_order.TryDequeue(out oldest))
            {
                _answers.TryRemove(oldest.Id, out _);
            }
        }
    }
}
