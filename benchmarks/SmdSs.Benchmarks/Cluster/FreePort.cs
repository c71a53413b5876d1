using System.Net;
using System.Net.Sockets;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>Loopback ports that were free a moment ago, for processes that take a port on their command line.</summary>
internal static class FreePort
{
    public static int Next()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
