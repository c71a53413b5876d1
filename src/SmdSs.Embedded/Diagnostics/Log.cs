using Microsoft.Extensions.Logging;

namespace SmdSs.Diagnostics;

/// <summary>Every log event of the node, with stable event ids (1xx node, 2xx storage).</summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Information,
        "SMD-SS node {NodeId} (incarnation {Incarnation}) started in {ElapsedMs} ms: data directory {DataDirectory}, {Slices} slices, {Entries} entries loaded, {DiskBytes} bytes on disk, fsync {FsyncPolicy}")]
    public static partial void NodeStarted(
        ILogger logger, string nodeId, long incarnation, long elapsedMs, string dataDirectory, int slices, long entries, long diskBytes, FsyncPolicy fsyncPolicy);

    [LoggerMessage(101, LogLevel.Information, "SMD-SS node {NodeId} stopped: {Entries} entries flushed to {DataDirectory}")]
    public static partial void NodeStopped(ILogger logger, string nodeId, long entries, string dataDirectory);

    [LoggerMessage(102, LogLevel.Error, "SMD-SS background maintenance failed; it will retry")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception);

    [LoggerMessage(200, LogLevel.Warning,
        "Slice file {Path}: dropped {Bytes} damaged bytes at offset {Offset} ({Where}); records before and after it were kept")]
    public static partial void DamageDropped(ILogger logger, string path, long bytes, long offset, string where);

    [LoggerMessage(201, LogLevel.Information, "Slice file {Path} from an older slice layout: its records were moved to the current slices")]
    public static partial void OrphanAdopted(ILogger logger, string path);

    [LoggerMessage(202, LogLevel.Warning,
        "Memory use {UsedBytes} bytes is over SmdSs:MaxMemoryBytes {LimitBytes} with every value evicted: the keys alone need more; raise the limit")]
    public static partial void KeysOverMemoryLimit(ILogger logger, long usedBytes, long limitBytes);

    [LoggerMessage(300, LogLevel.Warning, "Connection from {Remote} closed: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string remote, string reason);

    [LoggerMessage(302, LogLevel.Error, "Peer {Endpoint} refused or failed the handshake: {Reason} (is SmdSs:ClusterSecret the same on every node?)")]
    public static partial void HandshakeRefused(ILogger logger, string endpoint, string reason);

    [LoggerMessage(304, LogLevel.Warning, "{Suppressed} more connections were closed for the reasons above and not logged (at most 10 such events a second are)")]
    public static partial void ConnectionRefusalsSuppressed(ILogger logger, long suppressed);

    [LoggerMessage(305, LogLevel.Warning, "Peer {Peer} answered with what this node refuses, and none of it was applied: {Reason} ({Suppressed} more such answers not logged)")]
    public static partial void AnswerRefused(ILogger logger, string peer, string reason, long suppressed);

    [LoggerMessage(303, LogLevel.Warning,
        "SMD-SS node listening on {Endpoint} with no SmdSs:ClusterSecret (SmdSs:AllowInsecureCluster): anyone who reaches this port can join the cluster and read or change every value, and cluster traffic travels in clear")]
    public static partial void InsecureCluster(ILogger logger, string endpoint);

    [LoggerMessage(301, LogLevel.Information, "SMD-SS node {NodeId} listening on {Endpoint} (friends: {Friends})")]
    public static partial void Listening(ILogger logger, string nodeId, string endpoint, string friends);

    [LoggerMessage(400, LogLevel.Information, "Node {PeerId} at {Endpoint} is now {State} (incarnation {Incarnation})")]
    public static partial void PeerStateChanged(ILogger logger, string peerId, string endpoint, string state, long incarnation);

    [LoggerMessage(401, LogLevel.Information, "Slice {Range} epoch {Epoch}: replicas [{Replicas}], in sync [{InSync}] ({Reason})")]
    public static partial void SliceChanged(ILogger logger, string range, long epoch, string replicas, string inSync, string reason);

    [LoggerMessage(402, LogLevel.Information, "Slice {Range}: sent {Entries} records ({Bytes} bytes, {Mode}) to catch up {Replica}")]
    public static partial void SliceStreamed(ILogger logger, string range, int entries, long bytes, string mode, string replica);

    [LoggerMessage(403, LogLevel.Warning, "Slice {Range}: replica {Replica} failed ({Reason}); it leaves the in-sync set once its read lease ends ({Suppressed} more such failures of this replica in the last second not logged)")]
    public static partial void ReplicaFailed(ILogger logger, string range, string replica, string reason, long suppressed);

    [LoggerMessage(404, LogLevel.Error, "Two nodes claim endpoint {Endpoint}: {First} and {Second}; each node needs its own SmdSs:Listen")]
    public static partial void DuplicateEndpoint(ILogger logger, string endpoint, string first, string second);

    [LoggerMessage(405, LogLevel.Warning, "Cluster background task failed; it will retry")]
    public static partial void ClusterTaskFailed(ILogger logger, Exception exception);

    [LoggerMessage(407, LogLevel.Error, "A peer's slice {Range} does not match this node's layout of {Slices} slices: SmdSs:InitialSliceCount must be the same on every node")]
    public static partial void SliceLayoutMismatch(ILogger logger, string range, int slices);

    [LoggerMessage(406, LogLevel.Information, "Node {NodeId} decommissioning: handing over {Slices} slices")]
    public static partial void Decommissioning(ILogger logger, string nodeId, int slices);

    [LoggerMessage(408, LogLevel.Information, "Slice {Range}: anti-entropy with {Replica} found {Buckets} differing buckets; pushed {Pushed} keys, pulled {Pulled}")]
    public static partial void BucketsRepaired(ILogger logger, string range, string replica, int buckets, int pushed, int pulled);

    [LoggerMessage(409, LogLevel.Information, "Slice {Range} holds {Bytes} bytes in {Keys} keys, past the split threshold: split at {Middle:x8}")]
    public static partial void SliceSplit(ILogger logger, string range, long bytes, long keys, uint middle);

    [LoggerMessage(410, LogLevel.Information, "Node {PeerId} at {Endpoint} forgotten: {State} since {GoneSince:u}, longer than SmdSs:NodeRetention")]
    public static partial void NodeForgotten(ILogger logger, string peerId, string endpoint, string state, DateTimeOffset goneSince);

    [LoggerMessage(411, LogLevel.Warning, "The node map is full (SmdSsLimits.MaxNodes = {MaxNodes}): gave up {Evicted} gone nodes and left out {LeftOut} new ones; shorten SmdSs:NodeRetention if nodes are replaced this often")]
    public static partial void NodeMapFull(ILogger logger, int maxNodes, int evicted, int leftOut);

    [LoggerMessage(412, LogLevel.Warning, "The machine went down under this node when it last ran (no clean stop, another boot, SmdSs:FsyncPolicy not Always): its files may lack writes they took in the last moments. It serves nothing from them until its {Slices} in-sync slices are handed to other replicas or caught up from them")]
    public static partial void MachineWentDown(ILogger logger, int slices);

    [LoggerMessage(413, LogLevel.Information, "Stepped down after the machine went down: every slice this node held in sync is caught up from, or left with, another replica; it serves again")]
    public static partial void SteppedDown(ILogger logger);

    [LoggerMessage(414, LogLevel.Warning, "Slice {Range}: no other in-sync replica to take it after the machine went down; this node keeps leading it on files that may lack the last writes")]
    public static partial void KeptAfterMachineWentDown(ILogger logger, string range);
}
