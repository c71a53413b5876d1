namespace SmdSs.Protocol;

/// <summary>The type byte of a frame. Requests and their responses share the request id.</summary>
internal enum MessageType : byte
{
    // Handshake (must come first on every connection).
    Hello = 1,
    HelloChallenge = 2,
    HelloProof = 3,
    HelloOk = 4,

    // Responses.
    Ok = 10,
    Error = 11,

    // Membership and map sync.
    Ping = 20,
    SyncDigest = 21,
    SyncSummary = 22,
    SyncDelta = 23,
    Goodbye = 24,
    PingRequest = 25,

    // Key-value operations forwarded to a slice's primary.
    Get = 30,
    Set = 31,
    Remove = 32,
    Refresh = 33,
    Probe = 34,

    // Replication from a primary to its replicas.
    Replicate = 40,
    LeaseRequest = 41,
    SnapshotBegin = 42,
    SnapshotChunk = 43,
    SnapshotEnd = 44,
    Handoff = 45,
    DeltaBegin = 46,

    // Anti-entropy between a primary and one replica of a slice.
    DigestRequest = 47,
    BucketVersions = 48,
    FetchRecords = 49,

    // Distributed calculation: atomic operations at a key's primary, map functions per slice.
    Atomic = 50,
    MapSlice = 51,

    // Diagnostics: any node asks any node for its own figures (the dashboard's node table).
    NodeStats = 60,
}
