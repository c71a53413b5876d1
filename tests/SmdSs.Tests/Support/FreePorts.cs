using System.Net;
using System.Net.Sockets;

namespace SmdSs.Tests.Support;

/// <summary>Loopback ports that were free a moment ago (for processes that need a port on their command line).</summary>
public static class FreePorts
{
    public static int Next()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
