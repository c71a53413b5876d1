using System.Collections.Immutable;
using System.IO.Hashing;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Tests.Model;

/// <summary>
/// A map's digest hashes its records laid out as the wire carries them: nodes of releases that
/// hashed the wire form compare digests with this one, and a digest that differed would make
/// every gossip round of a mixed farm exchange whole summaries.
/// </summary>
public sealed class MapDigestTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_node_maps_digest_is_the_hash_of_its_records_wire_form(int seed)
    {
        var random = new Random(seed);
        NodeRecord[] records = [.. Enumerable.Range(0, random.Next(1, 40)).Select(i => new NodeRecord(
            NodeId.NewRandom(random), $"10.0.{i}.{random.Next(256)}:74{random.Next(100):00}", (NodeState)random.Next(6),
            random.NextInt64(), random.NextInt64(), random.NextInt64(), random.Next(3) == 0 ? 0 : random.NextInt64(1, long.MaxValue)))];
        NodeMap map = NodeMap.Of(records);

        var writer = new MessageWriter();
        foreach (NodeRecord record in map.Nodes)
        {
            WireFormat.Write(writer, record);
        }

        Assert.Equal(XxHash128.HashToUInt128(writer.WrittenSpan), map.Digest);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_slice_maps_digest_is_the_hash_of_its_records_wire_form(int seed)
    {
        var random = new Random(seed);
        NodeId[] nodes = [.. Enumerable.Range(0, 6).Select(_ => NodeId.NewRandom(random))];
        SliceMap map = SliceMap.CreateInitial(random.Next(1, 64), [.. nodes[..3]]);
        foreach (PieSlice slice in map.Slices.Where(_ => random.Next(2) == 0))
        {
            ImmutableArray<NodeId> replicas = [.. nodes.OrderBy(_ => random.Next()).Take(random.Next(1, 5))];
            PieSlice next = slice.Next(replicas, replicas.Take(1)) with { Epoch = random.NextInt64(1, long.MaxValue) };
            map = map.With(next.WithHints(replicas.Skip(1).Select(n => new ReplicaHint(n, random.NextInt64()))));
        }

        var writer = new MessageWriter();
        foreach (PieSlice slice in map.Slices)
        {
            WireFormat.Write(writer, slice);
        }

        Assert.Equal(XxHash128.HashToUInt128(writer.WrittenSpan), map.Digest);
        Assert.Contains(map.Slices, s => !s.Hints.IsDefaultOrEmpty);
    }
}
