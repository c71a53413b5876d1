using System.Buffers.Binary;
using System.IO.Hashing;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;

namespace SmdSs.Cluster;

/// <summary>
/// The node's last known node map and slice map, so that a restarted node knows its peers and
/// which slices it held. Replaced by write, fsync, atomic rename: a crash leaves the old state
/// or the new one.
/// </summary>
/// <remarks>
/// FORMAT (v3): <c>"SMDC" | u8 version=3 | u32 CRC-32 of the rest | i64 savedAtMs | u32 c | c × string contact | i64 contactsUntilMs | u32 n | n × NodeRecord | u32 m | m × PieSlice</c>
/// (records as in <see cref="WireFormat"/>; savedAtMs in Unix milliseconds, refreshed at least
/// every quarter of NodeRetention; contacts: endpoints to ask for the maps, see <see cref="Membership.NodeRetention.Restored"/>).
/// v2 (the previous release) has no savedAtMs and node records without their time gone: it is
/// read as saved now (a v2 cluster forgot no node, so its map brings none back), its Down and
/// Left nodes gone since the file's last write. A v1 file is ignored and the maps relearned.
/// </remarks>
internal static class ClusterStateFile
{
    public const byte FormatVersion = 3;
    private const byte PreviousFormatVersion = 2;
    private const string FileName = "cluster.state";

    public static void Write(string directory, NodeMap nodes, SliceMap slices, long savedAtMs, IReadOnlyList<string> contacts, long contactsUntilMs)
    {
        var body = new MessageWriter();
        body.I64(savedAtMs).U32((uint)contacts.Count);
        foreach (string contact in contacts)
        {
            body.String(contact);
        }

        body.I64(contactsUntilMs);
        body.U32((uint)nodes.Count);
        foreach (NodeRecord node in nodes.Nodes)
        {
            WireFormat.Write(body, node);
        }

        body.U32((uint)slices.Count);
        foreach (PieSlice slice in slices.Slices)
        {
            WireFormat.Write(body, slice);
        }

        var file = new MessageWriter().Raw("SMDC"u8).U8(FormatVersion).U32(Crc32.HashToUInt32(body.WrittenSpan)).Raw(body.WrittenSpan);
        string path = Path.Combine(directory, FileName);
        SyncedFile.Write(OsDisk.Instance, path, file.WrittenSpan);
    }

    /// <summary>The saved maps and when they were saved, or null when there are none or the file is damaged (the node then starts fresh).</summary>
    public static (NodeMap Nodes, SliceMap Slices, long SavedAtMs, List<string> Contacts, long ContactsUntilMs)? TryRead(string directory, long nowMs)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 9 || !bytes.AsSpan(0, 4).SequenceEqual("SMDC"u8) || bytes[4] is not (FormatVersion or PreviousFormatVersion)
            || BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(5)) != Crc32.HashToUInt32(bytes.AsSpan(9)))
        {
            return null;
        }

        try
        {
            var reader = new MessageReader(bytes.AsSpan(9));
            bool previous = bytes[4] == PreviousFormatVersion;
            long lastWriteMs = new DateTimeOffset(File.GetLastWriteTimeUtc(path)).ToUnixTimeMilliseconds();
            long savedAtMs = previous ? nowMs : reader.I64();
            int contactCount = previous ? 0 : reader.Count(2);
            var contacts = new List<string>(contactCount);
            for (int i = 0; i < contactCount; i++)
            {
                contacts.Add(reader.String());
            }

            long contactsUntilMs = previous ? 0 : reader.I64();            int nodeCount = reader.Count(WireFormat.MinNodeRecordBytes - (previous ? 8 : 0));
            var nodes = new List<NodeRecord>(nodeCount);
            for (int i = 0; i < nodeCount; i++)
            {
                nodes.Add(previous ? WithTimeGone(WireFormat.ReadNodeRecordWithoutGoneSince(ref reader), lastWriteMs) : WireFormat.ReadNodeRecord(ref reader));
            }

            int sliceCount = reader.Count(WireFormat.MinSliceBytes);
            var slices = new List<PieSlice>(sliceCount);
            for (int i = 0; i < sliceCount; i++)
            {
                slices.Add(WireFormat.ReadSlice(ref reader));
            }

            return (NodeMap.Of(nodes), SliceMap.FromSlices(slices), savedAtMs, contacts, contactsUntilMs);
        }
        catch (Exception ex) when (ex is ProtocolException or InvalidOperationException)
        {
            return null;
        }
    }

    private static NodeRecord WithTimeGone(NodeRecord record, long goneSinceMs) =>
        record.State is NodeState.Down or NodeState.Left ? record with { GoneSinceMs = goneSinceMs } : record;
}
