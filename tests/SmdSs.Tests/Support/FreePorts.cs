using System.Net;
using System.Net.Sockets;

namespace SmdSs.Tests.Support;

/// <summary>
/// Loopback ports for processes that need a port on their command line. Taken below the
/// kernel's ephemeral range (32768–60999 on Linux): a port the OS hands out on its own (to any
/// outgoing connection) could be taken between this check and the process's bind.
/// </summary>
public static class FreePorts
{
    private const int First = 20_000;
    private const int Last = 32_000;
    private static int _next = First + Random.Shared.Next(Last - First);

    public static int Next()
    {
        for (int attempt = 0; attempt < Last - First; attempt++)
        {
            int port = First + (Interlocked.Increment(ref _next) % (Last - First));
            if (IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free loopback port between {First} and {Last}.");
    }

    /// <summary>The first of <paramref name="count"/> consecutive free ports (a process that numbers its ports from one base).</summary>
    public static int NextRange(int count)
    {
        for (int attempt = 0; attempt < Last - First; attempt++)
        {
            int end = Interlocked.Add(ref _next, count) % (Last - First);
            int start = First + end - count + 1;
            if (start >= First && Enumerable.Range(start, count).All(IsFree))
            {
                return start;
            }
        }

        throw new InvalidOperationException($"No {count} consecutive free loopback ports between {First} and {Last}.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
