using SmdSs.Model;

namespace SmdSs.Protocol;

/// <summary>
/// One node's own figures, its answer to <see cref="MessageType.NodeStats"/>: what it holds, what
/// it served, and the digests of its maps. Counts are from its own store and its own slice map.
/// </summary>
/// <param name="Id">The answering node (a caller that reached another node at that endpoint can tell).</param>
/// <param name="Starts">How many times the node has started; a rate is computed only between two samples of one start.</param>
/// <param name="MonotonicMs">The node's monotonic clock when it took the figures; meaningful only as a difference.</param>
/// <param name="Keys">Live entries held, all slices.</param>
/// <param name="PrimaryKeys">Live entries held in the slices it is primary of (summed over nodes: the distinct keys).</param>
/// <param name="DiskBytes">Bytes of its slice files.</param>
/// <param name="MemoryBytes">Bytes of keys, values and index in memory.</param>
/// <param name="PrimarySlices">Slices its map lists it first for.</param>
/// <param name="ReplicaSlices">Slices its map lists it in, not first.</param>
/// <param name="Operations">Reads and writes its API served since the process started.</param>
/// <param name="NodeMapDigest">Digest of its node map.</param>
/// <param name="SliceMapDigest">Digest of its slice map.</param>
internal sealed record NodeStatsMessage(
    NodeId Id, long Starts, long MonotonicMs, long Keys, long PrimaryKeys, long DiskBytes, long MemoryBytes,
    int PrimarySlices, int ReplicaSlices, long Operations, UInt128 NodeMapDigest, UInt128 SliceMapDigest);

/// <remarks>
/// FORMAT (v1) of the <see cref="MessageType.NodeStats"/> answer (the request's payload is empty):
/// <code>
///   u64 id | i64 starts | i64 monotonicMs | i64 keys | i64 primaryKeys | i64 diskBytes | i64 memoryBytes |
///   u32 primarySlices | u32 replicaSlices | i64 operations | 2 × u64 nodeMapDigest | 2 × u64 sliceMapDigest
/// </code>
/// Counts and sizes are never negative; a payload that says otherwise is malformed.
/// </remarks>
internal static partial class Messages
{
    public static byte[] Encode(NodeStatsMessage m) =>
        new MessageWriter()
            .U64(m.Id.Value).I64(m.Starts).I64(m.MonotonicMs)
            .I64(m.Keys).I64(m.PrimaryKeys).I64(m.DiskBytes).I64(m.MemoryBytes)
            .U32((uint)m.PrimarySlices).U32((uint)m.ReplicaSlices).I64(m.Operations)
            .U64((ulong)(m.NodeMapDigest >> 64)).U64((ulong)m.NodeMapDigest)
            .U64((ulong)(m.SliceMapDigest >> 64)).U64((ulong)m.SliceMapDigest)
            .ToArray();

    public static NodeStatsMessage DecodeNodeStats(byte[] payload)
    {
        var r = new MessageReader(payload);
        var id = new NodeId(r.U64());
        long starts = r.I64();
        long monotonicMs = r.I64();
        long keys = NotNegative(r.I64(), "keys");
        long primaryKeys = NotNegative(r.I64(), "primary keys");
        long diskBytes = NotNegative(r.I64(), "disk bytes");
        long memoryBytes = NotNegative(r.I64(), "memory bytes");
        int primarySlices = (int)NotNegative(r.I32(), "primary slices");
        int replicaSlices = (int)NotNegative(r.I32(), "replica slices");
        long operations = NotNegative(r.I64(), "operations");
        var nodeDigest = new UInt128(r.U64(), r.U64());
        var sliceDigest = new UInt128(r.U64(), r.U64());
        r.ExpectEnd();
        return new NodeStatsMessage(id, starts, monotonicMs, keys, primaryKeys, diskBytes, memoryBytes, primarySlices, replicaSlices, operations, nodeDigest, sliceDigest);
    }

    private static long NotNegative(long value, string what) =>
        value >= 0 ? value : throw new ProtocolException($"negative {what}: {value}");
}
