namespace SmdSs;

/// <summary>
/// One node's figures for a cluster overview (what <see cref="SmdSsNode.GetClusterStatsAsync"/>
/// returns per node). Identity and state come from the asking node's node map; every other
/// figure is the node's own answer, and null when it did not answer (down, stopped, out of
/// reach within the timeout, or too old to know the question).
/// </summary>
/// <param name="Id">Node id (16 hex digits).</param>
/// <param name="Endpoint">Cluster endpoint (<c>ip:port</c>).</param>
/// <param name="State">Joining, Up, Suspect, Down or Leaving, as the asking node's map says.</param>
/// <param name="IsSelf">True for the asking node itself.</param>
/// <param name="Reachable">True when the figures below are the node's answer; false when they are unknown (null).</param>
/// <param name="Starts">How many times the node has started (its figures restart with it).</param>
/// <param name="MonotonicMs">The node's monotonic clock, in milliseconds, when it took its figures: only a difference
/// between two samples of the same start means anything. Operations per second =
/// Δ<see cref="Operations"/> × 1000 / Δ<see cref="MonotonicMs"/>.</param>
/// <param name="Keys">Live entries the node holds (every copy it holds: primary and replica).</param>
/// <param name="PrimaryKeys">Live entries in the slices the node is primary of; summed over all nodes, the number of distinct keys.</param>
/// <param name="DiskBytes">Bytes of the node's slice files on disk.</param>
/// <param name="MemoryBytes">Bytes of keys, values and index the node holds in memory.</param>
/// <param name="PrimarySlices">Slices the node's own slice map lists it as primary of.</param>
/// <param name="ReplicaSlices">Slices the node's own slice map lists it as a replica (not primary) of.</param>
/// <param name="Operations">Reads (Get, Refresh) and writes (Set, Remove) the node's own API served since its process
/// started; requests forwarded to it by other nodes are counted where they were made.</param>
/// <param name="NodeMapDigest">The node's node-map digest (32 hex digits); equal on every node once membership settles.</param>
/// <param name="SliceMapDigest">The node's slice-map digest (32 hex digits); equal on every node once placement settles.</param>
public sealed record SmdSsNodeStats(
    string Id,
    string Endpoint,
    string State,
    bool IsSelf,
    bool Reachable,
    long? Starts,
    long? MonotonicMs,
    long? Keys,
    long? PrimaryKeys,
    long? DiskBytes,
    long? MemoryBytes,
    int? PrimarySlices,
    int? ReplicaSlices,
    long? Operations,
    string? NodeMapDigest,
    string? SliceMapDigest);
