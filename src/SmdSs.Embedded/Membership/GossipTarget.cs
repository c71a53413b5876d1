using System.Diagnostics.CodeAnalysis;

namespace SmdSs.Membership;

/// <summary>
/// Whom a node gossips with this round. A random reachable peer, but a friend every fourth round
/// (friends are how a node finds the cluster) and a node it holds as Down every fifth: after a
/// partition heals, each side holds the other Down, and without that neither would call the
/// other again, whoever the friends are (a friend may be dead). With no reachable peer, friends
/// and Down nodes take turns. Down nodes come most recently gone first (a stop usually leaves
/// Down records that stay for the whole retention, and a healed partition is recent): a Down
/// round takes one of the three most recent, and every fifth Down round any of them. A Down
/// round the caller cannot run now (a call to a Down node still running) goes to a reachable
/// peer. Pure; the random source is the caller's.
/// </summary>
internal static class GossipTarget
{
    private const int RecentDown = 3;

    /// <param name="round">The gossip round, counted from 1.</param>
    /// <param name="reachable">Peers that serve.</param>
    /// <param name="friends">Configured friends and contacts, this node excluded.</param>
    /// <param name="down">Nodes held Down, most recently gone first.</param>
    /// <param name="downAllowed">False while a call to a Down node is still running.</param>
    /// <param name="random">The caller's random source.</param>
    /// <param name="target">The peer to call.</param>
    /// <param name="isDown">True when the target is a node held Down.</param>
    public static bool TryPick<T>(int round, IReadOnlyList<T> reachable, IReadOnlyList<T> friends, IReadOnlyList<T> down, bool downAllowed, Random random, [MaybeNullWhen(false)] out T target, out bool isDown)
    {
        bool alone = reachable.Count == 0;
        bool anyDown = downAllowed && down.Count > 0;
        isDown = false;
        if (friends.Count > 0 && (round % 4 == 0 || (alone && (round % 2 == 0 || !anyDown))))
        {
            target = friends[random.Next(friends.Count)];
            return true;
        }

        if (anyDown && (alone || round % 5 == 0))
        {
            target = down[random.Next(round % 25 == 0 ? down.Count : Math.Min(RecentDown, down.Count))];
            isDown = true;
            return true;
        }

        if (alone)
        {
            target = default;
            return false;
        }

        target = reachable[random.Next(reachable.Count)];
        return true;
    }
}
