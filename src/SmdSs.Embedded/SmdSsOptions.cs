namespace SmdSs;

/// <summary>
/// Configuration of one SMD-SS node. Bind it from a configuration section (conventionally
/// <c>SmdSs</c>) or set it in code; <see cref="SmdSsOptionsValidator"/> rejects bad values at
/// start-up with a message that names the option.
/// </summary>
public sealed class SmdSsOptions
{
    /// <summary>The conventional configuration section name: <c>SmdSs</c>.</summary>
    public const string SectionName = "SmdSs";

    /// <summary>
    /// The node's own endpoint, <c>ip:port</c>, where its listener accepts peers. Port 0 picks a
    /// free port. Default <c>127.0.0.1:7400</c>.
    /// </summary>
    public string Listen { get; set; } = "127.0.0.1:7400";

    /// <summary>
    /// Endpoints (<c>host:port</c>) of a few other nodes to join through. Entry points only: no
    /// friend is special. Default: none (a cluster of one).
    /// </summary>
    public IList<string> Friends { get; } = [];

    /// <summary>
    /// Directory for the node's identity and slice files; created when missing and locked while
    /// the node runs. A relative path is taken from the current directory. Default <c>smdss-data</c>.
    /// </summary>
    public string DataDirectory { get; set; } = "smdss-data";

    /// <summary>How many nodes hold each slice (primary included), 1 to 7. Default 3.</summary>
    public int ReplicationFactor { get; set; } = 3;

    /// <summary>
    /// Memory for keys, values and index, in bytes (at least 1 MiB). Past it the least recently
    /// used values are evicted from memory; they stay in their slice files and a read brings them
    /// back. Keys and the node's bookkeeping are never evicted. Default 1 GiB.
    /// </summary>
    public long MaxMemoryBytes { get; set; } = 1L << 30;

    /// <summary>When writes are forced to disk. Default <see cref="SmdSs.FsyncPolicy.EverySecond"/>.</summary>
    public FsyncPolicy FsyncPolicy { get; set; } = FsyncPolicy.EverySecond;

    /// <summary>
    /// Shared secret of the cluster: every node proves it before it is served, and every frame
    /// after that proof is encrypted and authenticated (AES-GCM) under keys of its connection
    /// alone. Either the base64 of 32 random bytes (<c>openssl rand -base64 32</c>), used as the
    /// key, or a passphrase of at least 16 characters, stretched with PBKDF2 at start. Required
    /// when <see cref="Listen"/> is not a loopback address, unless
    /// <see cref="AllowInsecureCluster"/>. Default: none.
    /// </summary>
    public string? ClusterSecret { get; set; }

    /// <summary>
    /// Further secrets this node accepts from peers, never offers: to roll a new
    /// <see cref="ClusterSecret"/> in one node at a time, first add the new secret here on every
    /// node, then make it the <see cref="ClusterSecret"/> (the old one here) on every node, then
    /// remove the old one. Requires <see cref="ClusterSecret"/>. Default: none.
    /// </summary>
    public IList<string> AdditionalClusterSecrets { get; } = [];

    /// <summary>
    /// Lets a node listen on a non-loopback address with no <see cref="ClusterSecret"/>: anyone
    /// who reaches the port can then join the cluster and read or change every value, and
    /// traffic travels in clear. Logged as a warning at every start. Default false.
    /// </summary>
    public bool AllowInsecureCluster { get; set; }

    /// <summary>Slices the hash space is cut into when a new cluster starts, 1 to 4096. Default 16.</summary>
    public int InitialSliceCount { get; set; } = 16;

    /// <summary>
    /// The largest value accepted, in bytes, up to <see cref="SmdSsLimits.MaxValueBytesCeiling"/>.
    /// Larger values get an <see cref="ArgumentException"/>. Default 16 MiB.
    /// </summary>
    public int MaxValueBytes { get; set; } = 16 << 20;

    /// <summary>
    /// A slice file is compacted (rewritten with only live records) once its dead bytes pass this
    /// threshold and make up at least half of the file. Default 16 MiB.
    /// </summary>
    public long CompactionDeadBytesThreshold { get; set; } = 16L << 20;

    /// <summary>
    /// How often expired entries nobody read are purged: a primary deletes expired sliding
    /// entries on every replica, and each node drops the others itself (reads never return them in
    /// between; one a read finds expired at its primary goes within about a second). Default 1 minute.
    /// </summary>
    public TimeSpan ExpirationScanInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Replicas (primary included) that must hold a write before Set returns; 0 means a majority
    /// of <see cref="ReplicationFactor"/> (2 of 3). Every in-sync replica is waited for as well.
    /// Default 0.
    /// </summary>
    public int WriteQuorum { get; set; }

    /// <summary>
    /// A peer silent this long is declared Down (Suspect at 40% of it); its slices' other
    /// replicas take over. Default 4 seconds.
    /// </summary>
    public TimeSpan FailureDetectionTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// How long a Down node keeps its slice assignments (a restart usually brings it back);
    /// after it, its slices get new replicas. Counted from the wall-clock time the node went
    /// down, as its record carries it, so that every node decides alike (keep the farm's clocks
    /// in step, as NTP does: a node whose clock is off moves its own boundary by as much).
    /// Default 60 seconds.
    /// </summary>
    public TimeSpan ReplacementGracePeriod { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long the node map remembers a node that left the cluster or went down: past it (by
    /// the time stamped when the node went, on the wall clock) the node is forgotten, unless a
    /// slice record still names it. A forgotten node that comes back simply joins again.
    /// Default 24 hours; at least <see cref="ReplacementGracePeriod"/> and one minute.
    /// </summary>
    public TimeSpan NodeRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a request may wait for a slice's primary (routing, failover, start-up sync)
    /// before it fails with <see cref="SmdSsUnavailableException"/>. Default 10 seconds.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a delete is remembered (as a tombstone, in memory and in the slice file) before it
    /// is purged everywhere. A replica away for less than this (minus a minute) catches up on
    /// only what it missed; one away longer gets its slices streamed whole. Default 10 minutes.
    /// </summary>
    public TimeSpan TombstoneRetention { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How often each primary compares its slices with every in-sync replica by bucket digests
    /// and repairs the keys that differ (lost or damaged files, writes that reached only some
    /// replicas). Default 1 minute.
    /// </summary>
    public TimeSpan AntiEntropyInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A slice whose live records pass this many bytes is split in two by its primary (the
    /// halves then spread over the nodes). Default 256 MiB.
    /// </summary>
    public long SplitThresholdBytes { get; set; } = 256L << 20;

    /// <summary>A slice holding this many keys is split in two by its primary. Default 1,000,000.</summary>
    public long SplitThresholdKeys { get; set; } = 1_000_000;

    /// <summary>
    /// How long callers of <c>GetOrAddAsync</c> that missed a key wait for the one caller running
    /// the value factory before another of them runs it (the first caller's node may have died).
    /// Default 30 seconds.
    /// </summary>
    public TimeSpan SingleFlightTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
