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

    /// <summary>Connections a node's cluster listener serves at once, authenticated or not: 1024. Past it a new one is closed at once.</summary>
    public const int MaxInboundConnections = 1024;

    /// <summary>Connections one peer node may hold open to a node at once: 16. Past it a new one is refused after the handshake.</summary>
    public const int MaxConnectionsPerPeer = 16;

    /// <summary>
    /// Requests one peer connection may have in flight: 64. A node reads no further request
    /// from a connection with this many unanswered (the peer waits; nothing is refused).
    /// </summary>
    public const int MaxRequestsInFlightPerConnection = 64;

    /// <summary>Bytes of requests one peer connection may have in flight: 64 MiB (one larger request is still read alone).</summary>
    public const int MaxRequestBytesInFlightPerConnection = 64 << 20;

    /// <summary>A peer connection with nothing in flight and no frame for this long is closed: 2 minutes (the peer reconnects when it needs to).</summary>
    public static readonly TimeSpan PeerConnectionIdleTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The largest answer an entry processor may return, in bytes: 1 MiB.</summary>
    public const int MaxReplyBytes = 1 << 20;
}
