using System.Net.Sockets;

namespace SmdSs.Transport;

/// <summary>The socket options of every peer connection, both ends.</summary>
internal static class PeerSockets
{
    /// <summary>
    /// No Nagle delay, and TCP keep-alive probes (after 10 s idle, every 5 s, 3 times): a peer
    /// that vanished (power, a moved pod) leaves no FIN, and its connection ends in about 25 s.
    /// </summary>
    public static void Configure(Socket socket)
    {
        socket.NoDelay = true;
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 10);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 5);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
    }
}
