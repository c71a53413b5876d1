using SmdSs.Model;

namespace SmdSs.Compute;

/// <summary>
/// A primary's operations per key whose replication has not yet succeeded: in flight, or failed
/// (the caller will retry). A later write of the key is computed on top of them (the key's lock
/// is not held across replication), so it carries their answers too: a replica that gets that
/// later value also learns which operations it contains, and answers their retries instead of
/// applying them again. Forgotten once replicated, or after the retention.
/// </summary>
internal sealed class InDoubtOperations(long retentionMs)
{
    private readonly Dictionary<string, List<(OperationAnswer Answer, long AtMs)>> _byKey = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _adds;

    // Keys held, readable without the lock: a replica (nothing in doubt) skips the lock on every write it applies.
    private volatile int _keys;

    /// <summary>Adds <paramref name="answer"/> for <paramref name="key"/>; returns every in-doubt answer of the key, this one included.</summary>
    public OperationAnswer[] Add(string key, OperationAnswer answer, long nowMs)
    {
        lock (_lock)
        {
            if (!_byKey.TryGetValue(key, out List<(OperationAnswer Answer, long AtMs)>? pending))
            {
                pending = [];
                _byKey[key] = pending;
            }

            pending.RemoveAll(p => p.AtMs < nowMs - retentionMs);
            pending.Add((answer, nowMs));
            if (++_adds % 1024 == 0)
            {
                // Failed operations of keys never written again would otherwise stay.
                foreach (string stale in _byKey.Where(k => k.Value.TrueForAll(p => p.AtMs < nowMs - retentionMs)).Select(k => k.Key).ToList())
                {
                    _byKey.Remove(stale);
                }
            }

            _keys = _byKey.Count;
            return [.. pending.Select(p => p.Answer)];
        }
    }

    /// <summary>Removes and returns the in-doubt answers of <paramref name="key"/>.</summary>
    public OperationAnswer[] Take(string key)
    {
        if (_keys == 0)
        {
            return [];
        }

        lock (_lock)
        {
            bool found = _byKey.Remove(key, out List<(OperationAnswer Answer, long AtMs)>? pending);
            _keys = _byKey.Count;
            return found ? [.. pending!.Select(p => p.Answer)] : [];
        }
    }

    /// <summary>Removes and returns the in-doubt answers of every key in <paramref name="range"/>.</summary>
    public List<OperationAnswer> TakeInRange(SliceRange range)
    {
        if (_keys == 0)
        {
            return [];
        }

        lock (_lock)
        {
            var taken = new List<OperationAnswer>();
            foreach ((string key, List<(OperationAnswer Answer, long AtMs)> pending) in _byKey.Where(k => k.Value.Exists(p => range.Contains(p.Answer.KeyHash))).ToList())
            {
                taken.AddRange(pending.Select(p => p.Answer));
                _byKey.Remove(key);
            }

            _keys = _byKey.Count;
            return taken;
        }
    }

    /// <summary>The in-doubt answers of <paramref name="key"/>.</summary>
    public OperationAnswer[] Of(string key)
    {
        lock (_lock)
        {
            return _byKey.TryGetValue(key, out List<(OperationAnswer Answer, long AtMs)>? pending) ? [.. pending.Select(p => p.Answer)] : [];
        }
    }

    /// <summary>A write carrying <paramref name="carried"/> reached every in-sync replica: they all know these answers now.</summary>
    public void Confirm(string key, IReadOnlyCollection<OperationAnswer>? carried)
    {
        if (carried is null or { Count: 0 })
        {
            return;
        }

        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out List<(OperationAnswer Answer, long AtMs)>? pending))
            {
                pending.RemoveAll(p => carried.Any(c => c.Id == p.Answer.Id));
                if (pending.Count == 0)
                {
                    _byKey.Remove(key);
                    _keys = _byKey.Count;
                }
            }
        }
    }

    /// <summary>Keys with answers in doubt.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byKey.Count;
            }
        }
    }
}
