using System.Diagnostics.CodeAnalysis;

namespace SmdSs.Membership;

/// <summary>
/// Whom a node gossips with this round. A random reachable peer, but a friend every fourth round
/// (friends are how a node finds the cluster) and a node it holds as Down every fifth: after a
/// partition heals, each side holds the other Down, and without that neither would call the
/// other again, whoever the friends are (a friend may be dead). With no reachable peer, friends
/// and Down nodes take turns. Pure; the random source is the caller's.
/// </summary>
internal static class GossipTarget
{
    public static bool TryPick<T>(int round, IReadOnlyList<T> reachable, IReadOnlyList<T> friends, IReadOnlyList<T> down, Random random, [MaybeNullWhen(false)] out T target, out bool isDown)
    {
        bool alone = reachable.Count == 0;
        isDown = false;
        if (friends.Count > 0 && (round % 4 == 0 || (alone && (round % 2 == 0 || down.Count == 0))))
        {
            target = friends[random.Next(friends.Count)];
            return true;
        }

        if (down.Count > 0 && (alone || round % 5 == 0))
        {
            target = down[random.Next(down.Count)];
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
