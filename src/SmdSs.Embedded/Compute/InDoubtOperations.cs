using SmdSs.Model;

namespace SmdSs.Compute;

/// <summary>
/// A primary's operations per key whose replication has not yet succeeded: in flight, or failed
/// (the caller will retry). A later write of the key is computed on top of them (the key's lock
/// is not held across replication), so it carries their answers too: a replica that gets that
/// later value also learns which operations it contains, and answers their retries instead of
/// applying them again. Forgotten once replicated, or after the retention.
/// A node that comes to lead a slice also inherits the answers it learned as its replica
/// (<see cref="Inherit"/>): the primary before it may hold them in doubt, and forgets an answer
/// in doubt that a value replacing its own does not carry (see <c>SmdSsNode.ForgetOwnInDoubt</c>);
/// the new primary's next write of the key carries them, until one reaches every replica.
/// </summary>
internal sealed class InDoubtOperations(long retentionMs)
{
    /// <summary>
    /// The most answers inherited per key (the newest): an old primary holds in doubt only the
    /// operations since its last write of the key that reached every replica, a handful, so that
    /// the next write of a hot counter after a hand-over does not carry a minute of answers.
    /// </summary>
    public const int MaxInheritedPerKey = 1_024;

    private readonly Dictionary<string, List<(OperationAnswer Answer, long AtMs)>> _byKey = new(StringComparer.Ordinal);
    // Learned as a replica, by key hash (a learned answer names no key).
    private readonly Dictionary<uint, List<(OperationAnswer Answer, long AtMs)>> _inherited = [];
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

                ForgetOldInherited(nowMs);
            }

            CountKeys();
            return WithInherited(key, pending, nowMs);
        }
    }

    /// <summary>
    /// This node came to lead a slice: <paramref name="answers"/> (oldest first), learned as its
    /// replica, are of operations whose values it holds and the primary before it may hold in
    /// doubt; each key's next write carries them until one reaches every in-sync replica.
    /// </summary>
    public void Inherit(IEnumerable<OperationAnswer> answers, long nowMs)
    {
        lock (_lock)
        {
            ForgetOldInherited(nowMs);
            foreach (IGrouping<uint, OperationAnswer> ofKey in answers.GroupBy(a => a.KeyHash))
            {
                List<OperationAnswer> newest = [.. ofKey.TakeLast(MaxInheritedPerKey)];
                HashSet<ulong> ids = [.. newest.Select(a => a.Id)];
                if (!_inherited.TryGetValue(ofKey.Key, out List<(OperationAnswer Answer, long AtMs)>? held))
                {
                    held = [];
                    _inherited[ofKey.Key] = held;
                }

                held.RemoveAll(h => ids.Contains(h.Answer.Id));
                held.AddRange(newest.Select(a => (a, nowMs)));
                if (held.Count > MaxInheritedPerKey)
                {
                    held.RemoveRange(0, held.Count - MaxInheritedPerKey);
                }
            }

            CountKeys();
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
            List<OperationAnswer> taken = _byKey.Remove(key, out List<(OperationAnswer Answer, long AtMs)>? pending) ? [.. pending.Select(p => p.Answer)] : [];
            if (_inherited.Remove(Hashing.KeyHash.Of(key), out List<(OperationAnswer Answer, long AtMs)>? inherited))
            {
                taken.AddRange(inherited.Select(i => i.Answer).Where(i => !taken.Exists(t => t.Id == i.Id)));
            }

            CountKeys();
            return [.. taken];
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

            foreach (uint hash in _inherited.Keys.Where(range.Contains).ToList())
            {
                taken.AddRange(_inherited[hash].Select(i => i.Answer).Where(i => !taken.Exists(t => t.Id == i.Id)));
                _inherited.Remove(hash);
            }

            CountKeys();
            return taken;
        }
    }

    /// <summary>The in-doubt answers of <paramref name="key"/>, its own and inherited.</summary>
    public OperationAnswer[] Of(string key)
    {
        if (_keys == 0)
        {
            return [];
        }

        lock (_lock)
        {
            return WithInherited(key, _byKey.TryGetValue(key, out List<(OperationAnswer Answer, long AtMs)>? pending) ? pending : [], nowMs: null);
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
                }
            }

            // Hashed only when something was inherited: every atomic write confirms.
            if (_inherited.Count > 0 && _inherited.TryGetValue(Hashing.KeyHash.Of(key), out List<(OperationAnswer Answer, long AtMs)>? inherited))
            {
                inherited.RemoveAll(i => carried.Any(c => c.Id == i.Answer.Id));
                if (inherited.Count == 0)
                {
                    _inherited.Remove(Hashing.KeyHash.Of(key));
                }
            }

            CountKeys();
        }
    }

    /// <summary>Keys with answers in doubt of their own, and key hashes with inherited ones.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byKey.Count + _inherited.Count;
            }
        }
    }

    // The key's own answers in doubt, then those it inherited that are younger than the
    // retention (at nowMs; all when not given) and not its own.
    private OperationAnswer[] WithInherited(string key, List<(OperationAnswer Answer, long AtMs)> own, long? nowMs)
    {
        if (_inherited.Count == 0 || !_inherited.TryGetValue(Hashing.KeyHash.Of(key), out List<(OperationAnswer Answer, long AtMs)>? inherited))
        {
            return [.. own.Select(p => p.Answer)];
        }

        if (nowMs is { } now)
        {
            inherited.RemoveAll(i => i.AtMs < now - retentionMs);
        }

        return [.. own.Select(p => p.Answer), .. inherited.Select(i => i.Answer).Where(i => !own.Exists(o => o.Answer.Id == i.Id))];
    }

    private void ForgetOldInherited(long nowMs)
    {
        foreach (uint stale in _inherited.Where(i => i.Value.TrueForAll(h => h.AtMs < nowMs - retentionMs)).Select(i => i.Key).ToList())
        {
            _inherited.Remove(stale);
        }
    }

    private void CountKeys() => _keys = _byKey.Count + _inherited.Count;
}
