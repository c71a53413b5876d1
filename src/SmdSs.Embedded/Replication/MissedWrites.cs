using System.Collections.Concurrent;
using SmdSs.Model;

namespace SmdSs.Replication;

/// <summary>
/// Hinted handoff, the primary's side: for each (slice, replica) whose copy was complete and then
/// missed writes (a write did not reach it, or it left the in-sync set), the oldest version it
/// may lack. The missed writes themselves are not copied: they are in this node's own slice file
/// (and deletes in its retained tombstones), so when the replica returns it is sent only what
/// changed since that version — a delta catch-up — instead of the whole slice. A replica whose
/// copy was never complete here (no hint) gets a full catch-up. These are the hints between two
/// records: the next record this primary commits carries them (<see cref="Model.PieSlice.Hints"/>),
/// so they outlive this node's leadership. Pure bookkeeping.
/// </summary>
internal sealed class MissedWrites
{
    private readonly ConcurrentDictionary<(uint Slice, NodeId Replica), long> _since = new();

    public int Count => _since.Count;

    /// <summary>
    /// Notes that <paramref name="replica"/> missed a write of <paramref name="version"/>. Counts only
    /// while its copy is otherwise complete: it was in sync, or it already has a hint (the oldest wins).
    /// </summary>
    public bool Note(uint slice, NodeId replica, long version, bool wasInSync)
    {
        if (wasInSync)
        {
            _since.AddOrUpdate((slice, replica), version, (_, old) => Math.Min(old, version));
            return true;
        }

        while (_since.TryGetValue((slice, replica), out long old))
        {
            if (old <= version || _since.TryUpdate((slice, replica), version, old))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The oldest version the replica may lack, when its copy is complete up to it.</summary>
    public long? Since(uint slice, NodeId replica) => _since.TryGetValue((slice, replica), out long since) ? since : null;

    /// <summary>The replica is in sync again (or gone): nothing to replay.</summary>
    public void Forget(uint slice, NodeId replica) => _since.TryRemove((slice, replica), out _);

    /// <summary>Hints of slices this node no longer leads are useless to it.</summary>
    public void ForgetSlice(uint slice)
    {
        foreach ((uint Slice, NodeId Replica) key in _since.Keys.Where(k => k.Slice == slice))
        {
            _since.TryRemove(key, out _);
        }
    }
}
