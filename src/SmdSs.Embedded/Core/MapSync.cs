using System.IO.Hashing;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Core;

/// <summary>
/// The decisions of a digest exchange, over two maps: whether the digests match, the summary a
/// node answers with when they do not (per-entry versions), the delta the asker then sends
/// (what it holds newer, what it wants), and the answer to that delta (the wanted entries).
/// Pure; the host and the simulation carry the messages.
/// </summary>
internal static class MapSync
{
    public static SyncDigestMessage Digest(NodeRecord self, NodeMap nodes, SliceMap slices) => new(self, nodes.Digest, slices.Digest);

    /// <summary>Null when both digests match (nothing to exchange), else the summary to answer with.</summary>
    public static SyncSummaryMessage? SummaryFor(SyncDigestMessage digest, NodeMap nodes, SliceMap slices) =>
        digest.NodeDigest == nodes.Digest && digest.SliceDigest == slices.Digest
            ? null
            : new SyncSummaryMessage([.. nodes.Summaries], [.. slices.Slices.Select(Summarize)]);

    /// <summary>What this node holds newer than the peer that sent <paramref name="peer"/>, and what it wants from it.</summary>
    public static SyncDeltaMessage DeltaAgainst(SyncSummaryMessage peer, NodeMap nodes, SliceMap slices)
    {
        var peerNodes = peer.Nodes.ToDictionary(n => n.Id);
        List<NodeRecord> pushNodes = [.. nodes.Nodes.Where(n => !peerNodes.TryGetValue(n.Id, out NodeSummary s) || s.IsOlderThan(n))];
        List<NodeId> wantNodes = [.. peer.Nodes.Where(s => nodes.Find(s.Id) is not { } mine || !mine.Supersedes(s.AsRecord()) && Differs(mine, s)).Select(s => s.Id)];

        var pushSlices = new List<PieSlice>();
        var wantSlices = new List<uint>();
        foreach (SliceSummary theirs in peer.Slices)
        {
            PieSlice mine = slices.Find(theirs.Start);
            if (mine.Range.Start != theirs.Start)
            {
                // A boundary only the peer has: a half of a slice it split.
                if (theirs.Epoch > mine.Epoch)
                {
                    wantSlices.Add(theirs.Start);
                }

                continue;
            }

            SliceSummary ours = Summarize(mine);
            if (ours == theirs)
            {
                continue;
            }

            // Either side may be newer; at equal epochs both travel and the merge rule decides.
            if (ours.Epoch >= theirs.Epoch)
            {
                pushSlices.Add(mine);
            }

            if (theirs.Epoch >= ours.Epoch)
            {
                wantSlices.Add(theirs.Start);
            }
        }

        // Boundaries only this node has: halves of slices it knows were split.
        var theirStarts = peer.Slices.Select(s => s.Start).ToHashSet();
        pushSlices.AddRange(slices.Slices.Where(s => !theirStarts.Contains(s.Range.Start)));
        return new SyncDeltaMessage(pushNodes, pushSlices, wantNodes, wantSlices);
    }

    /// <summary>
    /// The answer to a delta (once it is merged): the entries it asked for. A slice asked for
    /// comes with every record of the initial slice it lies in (<paramref name="initialLayout"/>,
    /// the farm's <c>InitialSliceCount</c>): had this node split it since its summary, the asker
    /// would otherwise get one half alone and keep its own older record of the other (a joiner's
    /// bootstrap record, led by itself) until a later exchange. A start the delta also pushes a
    /// record of the same range as this node's is a confirmation (a primary asking who holds its
    /// record): that start's record alone answers it.
    /// </summary>
    public static SyncDeltaMessage Answer(SyncDeltaMessage delta, NodeMap nodes, SliceMap slices, SliceMap initialLayout)
    {
        var sent = new HashSet<uint>();
        var records = new List<PieSlice>();
        var confirming = delta.Slices.Where(s => slices.Find(s.Range.Start).Range == s.Range).Select(s => s.Range.Start).ToHashSet();
        foreach (uint start in delta.WantSlices.Where(confirming.Contains))
        {
            PieSlice record = slices.Find(start);
            if (sent.Add(record.Range.Start))
            {
                records.Add(record);
            }
        }

        foreach (SliceRange family in delta.WantSlices.Where(s => !confirming.Contains(s)).Select(s => initialLayout.Find(s).Range).Distinct())
        {
            for (int i = slices.IndexOf(family.Start); i < slices.Count && slices.Slices[i].Range.Start <= family.End; i++)
            {
                if (sent.Add(slices.Slices[i].Range.Start))
                {
                    records.Add(slices.Slices[i]);
                }
            }
        }

        return new([.. delta.WantNodes.Select(nodes.Find).OfType<NodeRecord>()], records, [], []);
    }

    public static SliceSummary Summarize(PieSlice slice)
    {
        var writer = new MessageWriter();
        WireFormat.Write(writer, slice);
        return new SliceSummary(slice.Range.Start, slice.Epoch, slice.Primary?.Value ?? 0, XxHash3.HashToUInt64(writer.WrittenSpan));
    }

    private static bool Differs(NodeRecord mine, NodeSummary theirs) =>
        mine.Incarnation != theirs.Incarnation || mine.State != theirs.State || mine.Heartbeat != theirs.Heartbeat || mine.GoneSinceMs != theirs.GoneSinceMs;
}
