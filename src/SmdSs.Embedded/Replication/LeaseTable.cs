using System.Collections.Concurrent;
using SmdSs.Model;

namespace SmdSs.Replication;

/// <summary>
/// Read leases, both sides. A replica may answer reads of a slice from its own copy only while
/// it holds a lease from the slice's primary; the primary drops a replica from the in-sync set
/// only after the lease it granted has run out. The replica's lease starts when it sent the
/// request, the primary's record of it when it granted: so the replica's lease always ends first.
/// </summary>
internal sealed class LeaseTable
{
    private readonly ConcurrentDictionary<(uint Start, NodeId Replica), long> _grantedUntilMs = new();
    private readonly ConcurrentDictionary<uint, (NodeId Primary, long UntilMs)> _heldUntilMs = new();
    private readonly ConcurrentDictionary<(uint Start, NodeId Replica), byte> _revoked = new();
    private readonly ConcurrentDictionary<uint, long> _primarySinceMs = new();

    /// <summary>No new lease for this replica: the primary is about to drop it from the in-sync set.</summary>
    public void Revoke(uint sliceStart, NodeId replica) => _revoked[(sliceStart, replica)] = 0;

    public void Unrevoke(uint sliceStart, NodeId replica) => _revoked.TryRemove((sliceStart, replica), out _);

    public bool IsRevoked(uint sliceStart, NodeId replica) => _revoked.ContainsKey((sliceStart, replica));

    /// <summary>
    /// When this node became the slice's primary. Leases its predecessor granted are unknown
    /// here, so for one lease duration from then no in-sync replica may be dropped.
    /// </summary>
    public void BecamePrimary(uint sliceStart, long nowMs) => _primarySinceMs[sliceStart] = nowMs;

    public long PrimarySince(uint sliceStart) => _primarySinceMs.GetValueOrDefault(sliceStart, long.MinValue / 2);

    // Primary side.
    public void Grant(uint sliceStart, NodeId replica, long untilMs) => _grantedUntilMs[(sliceStart, replica)] = untilMs;

    public long GrantedUntil(uint sliceStart, NodeId replica) => _grantedUntilMs.GetValueOrDefault((sliceStart, replica));

    /// <summary>The replica gave its lease back (it is stopping): the primary may drop it at once.</summary>
    public void Release(uint sliceStart, NodeId replica) => _grantedUntilMs.TryRemove((sliceStart, replica), out _);

    // Replica side.
    public void Hold(uint sliceStart, NodeId primary, long untilMs) => _heldUntilMs[sliceStart] = (primary, untilMs);

    public bool Holds(uint sliceStart, NodeId primary, long nowMs) =>
        _heldUntilMs.TryGetValue(sliceStart, out var lease) && lease.Primary == primary && nowMs < lease.UntilMs;

    public void DropAllHeld() => _heldUntilMs.Clear();
}
