using System.Collections.Immutable;
using SmdSs.Core;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Tests.Core;

/// <summary>What a node answers a peer's delta with.</summary>
public sealed class MapSyncTests
{
    private static readonly ImmutableArray<NodeId> Replicas = [new NodeId(1), new NodeId(2), new NodeId(3)];

    // Four initial slices; the second split twice since (three records in its family).
    private static readonly SliceMap Initial = SliceMap.CreateInitial(4, Replicas);
    private static readonly SliceMap Held = Initial.Split(Initial.Slices[1].Range.Midpoint).Split(Initial.Slices[1].Range.Midpoint + (uint)(Initial.Slices[1].Range.Width / 4));

    [Fact]
    public void A_slice_asked_for_comes_with_every_record_of_its_initial_slice_and_no_other()
    {
        // The asker saw the second slice's start before it was split: one half alone would leave it its own record of the rest.
        SyncDeltaMessage answer = MapSync.Answer(new SyncDeltaMessage([], [], [], [Initial.Slices[1].Range.Start]), NodeMap.Empty, Held, Initial);

        Assert.Equal(Held.Slices.Skip(1).Take(3).Select(s => s.Range), answer.Slices.Select(s => s.Range));
    }

    [Fact]
    public void A_gossip_delta_that_pushes_a_wider_record_of_a_start_it_wants_gets_the_family()
    {
        // The asker's record of the whole initial slice, at an epoch equal to this node's halves'.
        PieSlice whole = Initial.Slices[1] with { Epoch = Held.Slices[1].Epoch };

        SyncDeltaMessage answer = MapSync.Answer(new SyncDeltaMessage([], [whole], [], [whole.Range.Start]), NodeMap.Empty, Held, Initial);

        Assert.Equal(3, answer.Slices.Count);
    }

    [Fact]
    public void A_confirmation_ask_gets_the_record_of_its_start_alone()
    {
        PieSlice mine = Held.Slices[2];

        SyncDeltaMessage answer = MapSync.Answer(new SyncDeltaMessage([], [mine], [], [mine.Range.Start]), NodeMap.Empty, Held, Initial);

        Assert.Equal([mine.Range], answer.Slices.Select(s => s.Range));
    }
}
