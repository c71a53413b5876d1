using System.IO.Hashing;
using SmdSs.Cluster;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Storage;

/// <summary>The saved node and slice maps: this release's format, and the previous release's read on upgrade.</summary>
public sealed class ClusterStateFileTests
{
    private const long SavedAt = 1_800_000_000_000;
    private static readonly NodeId A = new(0x1111);
    private static readonly NodeId B = new(0x2222);
    private static readonly NodeId C = new(0x3333);

    private static readonly NodeMap Nodes = NodeMap.Of([
        new NodeRecord(A, "10.0.0.1:7400", NodeState.Up, 1L << 20, 7, 42),
        new NodeRecord(B, "10.0.0.2:7400", NodeState.Down, 2L << 20, 3, 0, SavedAt - 5_000),
        new NodeRecord(C, "10.0.0.3:7400", NodeState.Left, 3L << 20, 9, 0, SavedAt - 9_000)]);

    private static readonly SliceMap Slices = SliceMap.FromSlices([
        new PieSlice(new SliceRange(0, 0x7FFF_FFFF), 4, [A, B], [A], [new ReplicaHint(B, 11)]),
        new PieSlice(new SliceRange(0x8000_0000, uint.MaxValue), 6, [A])]);

    [Fact]
    public void The_maps_and_the_time_they_were_saved_come_back_as_written()
    {
        using var directory = new TempDirectory();
        ClusterStateFile.Write(directory.Path, Nodes, Slices, SavedAt, ["10.0.0.7:7400", "host.example:7400"], SavedAt + 99);

        (NodeMap nodes, SliceMap slices, long savedAt, List<string> contacts, long until) = ClusterStateFile.TryRead(directory.Path, SavedAt + 5)!.Value;

        Assert.Equal(Nodes.Nodes, nodes.Nodes);
        Assert.Equal(Slices.Digest, slices.Digest);
        Assert.Equal(SavedAt, savedAt);
        Assert.Equal(["10.0.0.7:7400", "host.example:7400"], contacts);
        Assert.Equal(SavedAt + 99, until);
    }

    [Fact]
    public void A_file_of_the_previous_release_is_read_as_saved_now_its_gone_nodes_gone_since_its_last_write()
    {
        using var directory = new TempDirectory();
        string path = Path.Combine(directory.Path, "cluster.state");
        File.WriteAllBytes(path, PreviousReleaseFile(Nodes, Slices));
        var lastWrite = new DateTime(2026, 11, 30, 12, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(path, lastWrite);
        long lastWriteMs = new DateTimeOffset(lastWrite).ToUnixTimeMilliseconds();

        (NodeMap nodes, SliceMap slices, long savedAt, List<string> contacts, _) = ClusterStateFile.TryRead(directory.Path, SavedAt)!.Value;

        // A cluster of that release forgot no node: its map is passed on as if just saved.
        Assert.Equal(SavedAt, savedAt);
        Assert.Empty(contacts);
        Assert.Equal(0, nodes.Find(A)!.GoneSinceMs);
        Assert.Equal(Nodes.Find(A), nodes.Find(A));
        Assert.Equal(Nodes.Find(B)! with { GoneSinceMs = lastWriteMs }, nodes.Find(B));
        Assert.Equal(Nodes.Find(C)! with { GoneSinceMs = lastWriteMs }, nodes.Find(C));
        Assert.Equal(Slices.Digest, slices.Digest);

        // Written back in this release's format.
        ClusterStateFile.Write(directory.Path, nodes, slices, SavedAt, [], 0);
        Assert.Equal(ClusterStateFile.FormatVersion, File.ReadAllBytes(path)[4]);
        Assert.Equal(nodes.Nodes, ClusterStateFile.TryRead(directory.Path, SavedAt)!.Value.Nodes.Nodes);
    }

    [Theory]
    [InlineData("unknown-version")]
    [InlineData("bad-crc")]
    [InlineData("truncated")]
    public void A_damaged_or_unknown_file_is_no_saved_state(string damage)
    {
        using var directory = new TempDirectory();
        ClusterStateFile.Write(directory.Path, Nodes, Slices, SavedAt, [], 0);
        string path = Path.Combine(directory.Path, "cluster.state");
        byte[] bytes = File.ReadAllBytes(path);
        switch (damage)
        {
            case "unknown-version":
                bytes[4] = 9;
                break;
            case "bad-crc":
                bytes[^1] ^= 0x55;
                break;
            default:
                bytes = bytes[..^3];
                break;
        }

        File.WriteAllBytes(path, bytes);
        Assert.Null(ClusterStateFile.TryRead(directory.Path, SavedAt));
    }

    // cluster.state v2: no saved time, node records end at their load.
    private static byte[] PreviousReleaseFile(NodeMap nodes, SliceMap slices)
    {
        var body = new MessageWriter().U32((uint)nodes.Count);
        foreach (NodeRecord n in nodes.Nodes)
        {
            body.U64(n.Id.Value).String(n.Endpoint).U8((byte)n.State).I64(n.Incarnation).I64(n.Heartbeat).I64(n.Load);
        }

        body.U32((uint)slices.Count);
        foreach (PieSlice slice in slices.Slices)
        {
            WireFormat.Write(body, slice);
        }

        return [.. new MessageWriter().Raw("SMDC"u8).U8(2).U32(Crc32.HashToUInt32(body.WrittenSpan)).Raw(body.WrittenSpan).WrittenSpan];
    }
}
