namespace SmdSs;

/// <summary>Hard limits of SMD-SS, enforced on every operation.</summary>
public static class SmdSsLimits
{
    /// <summary>The largest key, in UTF-8 bytes: 4096.</summary>
    public const int MaxKeyBytes = 4096;

    /// <summary>The largest value <see cref="SmdSsOptions.MaxValueBytes"/> may allow: 256 MiB.</summary>
    public const int MaxValueBytesCeiling = 256 << 20;

    /// <summary>
    /// Keys starting with this prefix (<c>smdss:</c>, ordinal) are SMD-SS's own (the Data
    /// Protection key ring): <see cref="ISmdSsKeyValueStore"/> and <c>IDistributedCache</c>
    /// refuse them with an <see cref="ArgumentException"/>, so no app endpoint can read or
    /// overwrite them, and map functions never see them.
    /// </summary>
    public const string ReservedKeyPrefix = "smdss:";

    /// <summary>
    /// Connections a node's cluster listener lets handshake at once: 256 in all, 16 from one
    /// address. Past either a new connection is closed at once. (The handshake itself must finish
    /// within 5 seconds.)
    /// </summary>
    public const int MaxHandshakingConnections = 256;

    /// <inheritdoc cref="MaxHandshakingConnections"/>
    public const int MaxHandshakingConnectionsPerAddress = 16;

    /// <summary>Authenticated peer connections a node serves at once: 1024. Past it a new one is refused after the handshake.</summary>
    public const int MaxPeerConnections = 1024;

    /// <summary>Connections one peer node may hold open to a node at once: 16. Past it a new one is refused after the handshake.</summary>
    public const int MaxConnectionsPerPeer = 16;

    /// <summary>
    /// Requests one peer connection may have in flight: 1024, holding at most 64 MiB of request
    /// bytes (one larger request is still taken alone). A request past either bound is answered
    /// at once with an "unavailable, busy" error, which the sender retries.
    /// </summary>
    public const int MaxRequestsInFlightPerConnection = 1024;

    /// <inheritdoc cref="MaxRequestsInFlightPerConnection"/>
    public const int MaxRequestBytesInFlightPerConnection = 64 << 20;

    /// <summary>
    /// Bytes of answers waiting to be written to one peer connection: 64 MiB (one larger answer
    /// still waits alone). Past it the peer is not reading its answers, and the connection is closed.
    /// </summary>
    public const int MaxAnswerBytesPendingPerConnection = 64 << 20;

    /// <summary>A peer connection with nothing in flight and no frame for this long is closed: 2 minutes (the peer reconnects when it needs to).</summary>
    public static readonly TimeSpan PeerConnectionIdleTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Nodes one node map holds, counting those down or left within <see cref="SmdSsOptions.NodeRetention"/>:
    /// 4096. Past it the nodes gone longest (that no slice names) are given up, and new nodes that
    /// still do not fit are left out, with a warning (event 411). (A farm that replaces its nodes
    /// with new ones very often shortens the retention.)
    /// </summary>
    public const int MaxNodes = 4096;

    /// <summary>The largest answer an entry processor may return, in bytes: 1 MiB.</summary>
    public const int MaxReplyBytes = 1 << 20;
}
