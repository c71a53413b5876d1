using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Tests.Protocol;
using SmdSs.Tests.Support;
using SmdSs.Transport;

namespace SmdSs.Tests.Compute;

/// <summary>
/// A caller whose increment was applied but whose answer was lost retries it with the same
/// operation id; the primary meanwhile stopped and came back on its files (in a farm, before
/// anyone declared it Down, so it is still the primary). It must answer the retry from its
/// files, not apply it again (the seeded simulation's seed 6 found this path).
/// </summary>
public sealed class RestartedPrimaryRetryTests
{
    private const string Key = "visits:restart";

    [Fact]
    public async Task A_node_restarted_on_its_files_answers_a_retry_of_an_operation_it_applied_before()
    {
        using var scratch = new TempDirectory();
        string directory = scratch.Sub("node");
        NodeId caller = NodeId.NewRandom(Random.Shared);
        byte[] increment = ComputeMessages.Encode(new AtomicRequest(AtomicKind.Increment, Key, 0x5EED_0002, EntryExpiry.None, 5, "", []));
        byte[] other = ComputeMessages.Encode(new AtomicRequest(AtomicKind.Increment, Key, 0x5EED_0003, EntryExpiry.None, 1, "", []));

        await using (SmdSsNode node = await TestNodes.StartAsync(directory))
        await using (TcpPeerTransport transport = Wire.Transport(caller, null))
        {
            Assert.Equal(5, await AtomicAsync(transport, node, increment));
        }

        // Stopped and started again: the answer lives on only in the slice file.
        await using (SmdSsNode node = await TestNodes.StartAsync(directory))
        await using (TcpPeerTransport transport = Wire.Transport(caller, null))
        {
            Assert.Equal(5, await AtomicAsync(transport, node, increment));
            Assert.Equal(6, await AtomicAsync(transport, node, other));
            Assert.Equal("6", await node.GetStringAsync(Key));
        }
    }

    private static async Task<long> AtomicAsync(TcpPeerTransport transport, SmdSsNode node, byte[] payload)
    {
        Frame reply = await transport.SendAsync(node.Endpoint!, MessageType.Atomic, payload, TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.True(reply.Type == MessageType.Ok, reply.Type == MessageType.Error ? ErrorReply.Read(reply.Payload).Message : reply.Type.ToString());
        return new MessageReader(reply.Payload).I64();
    }
}
