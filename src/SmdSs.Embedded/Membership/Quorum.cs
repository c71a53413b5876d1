using SmdSs.Model;

namespace SmdSs.Membership;

/// <summary>
/// The majority rule that keeps a partitioned minority from acting as a second cluster. The
/// voters are this node, every serving node and every node a slice lists as a replica (a node
/// that died and was replaced holds no slices and stops counting). A node may change slice
/// records, and a primary may answer reads from its own copy, only while it is in contact with
/// a strict majority of the voters; the other side of a partition takes its slices over. With
/// two voters or fewer there is no majority to ask: both sides go on (a two-node farm favours
/// staying available; the records' epochs and last-writer-wins repair merge them when it heals).
/// Pure.
/// </summary>
internal static class Quorum
{
    public static bool Holds(NodeId self, IEnumerable<NodeId> voters, Func<NodeId, bool> inContact)
    {
        var all = voters.Append(self).ToHashSet();
        if (all.Count <= 2)
        {
            return true;
        }

        int reached = all.Count(n => n == self || inContact(n));
        return reached * 2 > all.Count;
    }
}
