using SmdSs.Model;

namespace SmdSs.Replication;

/// <summary>
/// Bounds on the numbers a peer's message may carry. Epochs, incarnations and heartbeats only
/// grow, by bounded steps, and stay far below where arithmetic on them could overflow; a write
/// version may not run far ahead of this node's clock (it would win over every later write).
/// Each check gives the reason for a refusal, or null. Pure: the time is an argument.
/// </summary>
internal static class PeerClaims
{
    /// <summary>The highest slice epoch: 2^48 (a million commits a second for 8 years).</summary>
    public const long MaxEpoch = 1L << 48;

    /// <summary>The most a slice's epoch may move in one step past the record held: 2^32.</summary>
    public const long MaxEpochStep = 1L << 32;

    /// <summary>The highest incarnation: 2^52 (a restart adds 2^20: four billion restarts).</summary>
    public const long MaxIncarnation = 1L << 52;

    /// <summary>The most a node's incarnation may move in one step past the record held: 2^44 (16 million restarts, every start counting).</summary>
    public const long MaxIncarnationStep = 1L << 44;

    /// <summary>The highest heartbeat: 2^62.</summary>
    public const long MaxHeartbeat = 1L << 62;

    /// <summary>How far a write version may run ahead of this node's clock: one hour.</summary>
    public const long MaxVersionAheadMs = 60 * 60 * 1000;

    /// <summary>How far a node's time gone may run ahead of this node's clock: one hour (it would keep the node in every map).</summary>
    public const long MaxGoneSinceAheadMs = 60 * 60 * 1000;

    public static string? RefuseNode(NodeRecord record, NodeRecord? held, long wallNowMs)
    {
        if (record.Incarnation is < 0 or > MaxIncarnation)
        {
            return $"node {record.Id}: incarnation {record.Incarnation} outside 0..2^52";
        }

        if (held is not null && record.Incarnation - held.Incarnation > MaxIncarnationStep)
        {
            return $"node {record.Id}: incarnation {record.Incarnation} jumps more than 2^44 past {held.Incarnation}";
        }

        if (record.Heartbeat is < 0 or > MaxHeartbeat)
        {
            return $"node {record.Id}: heartbeat {record.Heartbeat} outside 0..2^62";
        }

        if (record.GoneSinceMs - wallNowMs > MaxGoneSinceAheadMs)
        {
            return $"node {record.Id}: gone since {record.GoneSinceMs}, more than an hour ahead of this node's clock ({wallNowMs})";
        }

        // A gone node without the time it went would never be forgotten; a serving one has none.
        bool gone = record.State is NodeState.Down or NodeState.Left;
        return gone == (record.GoneSinceMs == 0) ? $"node {record.Id}: {record.State} with time gone {record.GoneSinceMs}" : null;
    }

    /// <param name="record">The peer's record.</param>
    /// <param name="held">This node's record of the slice holding <paramref name="record"/>'s start.</param>
    public static string? RefuseSlice(PieSlice record, PieSlice held)
    {
        if (record.Epoch is < 0 or > MaxEpoch)
        {
            return $"slice {record.Range}: epoch {record.Epoch} outside 0..2^48";
        }

        return record.Epoch - held.Epoch > MaxEpochStep ? $"slice {record.Range}: epoch {record.Epoch} jumps more than 2^32 past {held.Epoch}" : null;
    }

    public static string? RefuseVersion(long version, long nowMs)
    {
        if (version < 0)
        {
            return $"write version {version} is negative";
        }

        long aheadMs = HybridTimestamp.PhysicalMsOf(version) - nowMs;
        return aheadMs > MaxVersionAheadMs ? $"write version {version} is {aheadMs} ms ahead of this node's clock (at most {MaxVersionAheadMs} ms)" : null;
    }
}
