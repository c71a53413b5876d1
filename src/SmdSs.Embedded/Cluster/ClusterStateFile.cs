using System.Buffers.Binary;
using System.IO.Hashing;
using SmdSs.Membership;
using SmdSs.Placement;
using SmdSs.Protocol;
using SmdSs.Storage;

namespace SmdSs.Cluster;

/// <summary>
/// The node's last known node map and slice map, so that a restarted node knows its peers and
/// which slices it held. Replaced by write, fsync, atomic rename: a crash leaves the old state
/// or the new one.
/// </summary>
/// <remarks>
/// FORMAT (v2; v2 slice records carry hints, a v1 file is ignored and the maps relearned): <c>"SMDC" | u8 version=2 | u32 CRC-32 of the rest | u32 n | n × NodeRecord | u32 m | m × PieSlice</c>
/// (records as in <see cref="WireFormat"/>).
/// </remarks>
internal static class ClusterStateFile
{
    public const byte FormatVersion = 2;
    private const string FileName = "cluster.state";

    public static void Write(string directory, NodeMap nodes, SliceMap slices)
    {
        var body = new MessageWriter();
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
        string temp = path + ".tmp";
        using (FileStream stream = PrivateFiles.Open(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(file.WrittenSpan);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The saved maps, or null when there are none or the file is damaged (the node then starts fresh).</summary>
    public static (NodeMap Nodes, SliceMap Slices)? TryRead(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 9 || !bytes.AsSpan(0, 4).SequenceEqual("SMDC"u8) || bytes[4] != FormatVersion
            || BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(5)) != Crc32.HashToUInt32(bytes.AsSpan(9)))
        {
            return null;
        }

        try
        {
            var reader = new MessageReader(bytes.AsSpan(9));
            int nodeCount = reader.Count(WireFormat.MinNodeRecordBytes);
            var nodes = new List<NodeRecord>(nodeCount);
            for (int i = 0; i < nodeCount; i++)
            {
                nodes.Add(WireFormat.ReadNodeRecord(ref reader));
            }

            int sliceCount = reader.Count(WireFormat.MinSliceBytes);
            var slices = new List<PieSlice>(sliceCount);
            for (int i = 0; i < sliceCount; i++)
            {
                slices.Add(WireFormat.ReadSlice(ref reader));
            }

            return (NodeMap.Of(nodes), SliceMap.FromSlices(slices));
        }
        catch (Exception ex) when (ex is ProtocolException or InvalidOperationException)
        {
            return null;
        }
    }
}
