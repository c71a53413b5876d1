using SmdSs.Model;

namespace SmdSs;

/// <summary>A snapshot of one node's view of the cluster (what <c>GET /smdss/status</c> returns).</summary>
/// <param name="NodeId">This node's id.</param>
/// <param name="Endpoint">This node's cluster endpoint.</param>
/// <param name="NodeMapDigest">128-bit digest of the node map, hex; equal on every node once membership settles.</param>
/// <param name="SliceMapDigest">128-bit digest of the slice map, hex; equal on every node once placement settles.</param>
/// <param name="Nodes">Every node in the node map.</param>
/// <param name="Slices">Every slice, in hash order.</param>
/// <param name="Repairs">The repair work this node did as a primary since it started.</param>
public sealed record SmdSsStatus(
    string NodeId, string Endpoint, string NodeMapDigest, string SliceMapDigest, IReadOnlyList<SmdSsNodeStatus> Nodes, IReadOnlyList<SmdSsSliceStatus> Slices, SmdSsRepairStatus Repairs);

/// <summary>Repair work done by one node since it started (the same figures as its metrics).</summary>
/// <param name="FullCatchUps">Replicas sent a whole copy of a slice (joins, re-replication, returns without a usable hint).</param>
/// <param name="FullCatchUpBytes">Bytes of those whole copies.</param>
/// <param name="DeltaCatchUps">Returning replicas sent only what they missed (hinted handoff).</param>
/// <param name="DeltaCatchUpBytes">Bytes of those deltas.</param>
/// <param name="BucketsRepaired">Anti-entropy buckets found different from a replica's.</param>
/// <param name="KeysRepaired">Keys anti-entropy copied, both ways.</param>
/// <param name="Splits">Slices split by this node.</param>
public sealed record SmdSsRepairStatus(long FullCatchUps, long FullCatchUpBytes, long DeltaCatchUps, long DeltaCatchUpBytes, long BucketsRepaired, long KeysRepaired, long Splits);

/// <summary>One node as the node map knows it.</summary>
/// <param name="Id">Node id.</param>
/// <param name="Endpoint">Cluster endpoint.</param>
/// <param name="State">Joining, Up, Suspect, Down, Leaving or Left.</param>
/// <param name="Incarnation">Grows on restart and when the node refutes a suspicion.</param>
public sealed record SmdSsNodeStatus(string Id, string Endpoint, string State, long Incarnation);

/// <summary>One pie slice.</summary>
/// <param name="Start">First hash of the range.</param>
/// <param name="End">Last hash of the range (inclusive).</param>
/// <param name="Epoch">Version of the slice's record.</param>
/// <param name="Replicas">Replica node ids, primary first.</param>
/// <param name="InSync">The replicas that hold every acknowledged write.</param>
/// <param name="LocalEntries">Entries this node holds for the slice.</param>
public sealed record SmdSsSliceStatus(uint Start, uint End, long Epoch, IReadOnlyList<string> Replicas, IReadOnlyList<string> InSync, long LocalEntries);
