namespace SmdSs.AspNetCore.Dashboard;

/// <summary>
/// What <c>GET {prefix}/dashboard.json</c> returns: this node's slice map (the pie) and every
/// node with its figures (the table). Slice counts per node are taken from this node's map, so
/// the table and the pie always agree; keys, bytes and operations are each node's own answer.
/// </summary>
/// <param name="NodeId">The node that answered this request.</param>
/// <param name="Endpoint">Its cluster endpoint.</param>
/// <param name="SampledAtMs">Unix time of the sample, in milliseconds.</param>
/// <param name="Summary">The figures of the summary line.</param>
/// <param name="Nodes">Every node in the node map except those that left for good, in id order.</param>
/// <param name="Slices">Every slice, in hash order.</param>
internal sealed record DashboardSnapshot(
    string NodeId, string Endpoint, long SampledAtMs, DashboardSummary Summary, IReadOnlyList<DashboardNode> Nodes, IReadOnlyList<DashboardSlice> Slices);

/// <param name="NodesUp">Nodes whose state is Up in this node's map.</param>
/// <param name="NodesKnown">Nodes listed.</param>
/// <param name="NodesReachable">Nodes that answered with their figures.</param>
/// <param name="Slices">Slices in the map.</param>
/// <param name="Keys">Distinct keys: the sum over reachable nodes of the keys in the slices each is primary of.</param>
/// <param name="Copies">Keys held, every copy: the sum over reachable nodes.</param>
/// <param name="OpsPerSecond">The sum of the known rates.</param>
/// <param name="SliceMapDigest">This node's slice-map digest.</param>
/// <param name="DigestsAgreeing">Reachable nodes whose slice-map digest equals this node's.</param>
/// <param name="DigestsAgree">True when every reachable node has this node's slice map.</param>
internal sealed record DashboardSummary(
    int NodesUp, int NodesKnown, int NodesReachable, int Slices, long? Keys, long? Copies, double OpsPerSecond,
    string SliceMapDigest, int DigestsAgreeing, bool DigestsAgree);

/// <param name="Id">Node id.</param>
/// <param name="Endpoint">Cluster endpoint.</param>
/// <param name="State">State in this node's map.</param>
/// <param name="IsSelf">The node that answered this request.</param>
/// <param name="Reachable">It answered with its figures (else they are null).</param>
/// <param name="Color">Its color, derived from its id (#rrggbb).</param>
/// <param name="PrimarySlices">Slices this node's map lists it first for.</param>
/// <param name="ReplicaSlices">Slices this node's map lists it in, not first.</param>
/// <param name="CatchingUpSlices">Of those it is listed for, the slices where it is not in sync (catching up, or down).</param>
/// <param name="Keys">Live entries it holds.</param>
/// <param name="DiskBytes">Bytes of its slice files.</param>
/// <param name="MemoryBytes">Bytes it holds in memory.</param>
/// <param name="Operations">Reads and writes its API served since it started.</param>
/// <param name="OpsPerSecond">Its recent rate of those (null until two samples a second apart are known).</param>
/// <param name="SliceMapAgrees">Its slice-map digest equals this node's (null when unknown).</param>
internal sealed record DashboardNode(
    string Id, string Endpoint, string State, bool IsSelf, bool Reachable, string Color,
    int PrimarySlices, int ReplicaSlices, int CatchingUpSlices,
    long? Keys, long? DiskBytes, long? MemoryBytes, long? Operations, double? OpsPerSecond, bool? SliceMapAgrees);

/// <param name="Start">First hash (inclusive).</param>
/// <param name="End">Last hash (inclusive).</param>
/// <param name="Epoch">Version of the slice's record.</param>
/// <param name="Primary">The primary's id (null for a slice without replicas).</param>
/// <param name="Replicas">Every replica, primary first.</param>
internal sealed record DashboardSlice(uint Start, uint End, long Epoch, string? Primary, IReadOnlyList<DashboardReplica> Replicas);

/// <param name="Id">Node id.</param>
/// <param name="InSync">Holds every acknowledged write; false while it catches up (or is down).</param>
internal sealed record DashboardReplica(string Id, bool InSync);
