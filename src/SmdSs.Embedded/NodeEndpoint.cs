using System.Globalization;
using System.Net;

namespace SmdSs;

/// <summary>Parses the <c>ip:port</c> and <c>host:port</c> strings of <see cref="SmdSsOptions"/>.</summary>
internal static class NodeEndpoint
{
    public static bool TryParseListen(string? text, out IPEndPoint endpoint)
    {
        endpoint = null!;
        return !string.IsNullOrWhiteSpace(text) && IPEndPoint.TryParse(text, out endpoint!) && text.Contains(':', StringComparison.Ordinal);
    }

    public static bool TryParseFriend(string? text, out EndPoint endpoint)
    {
        endpoint = null!;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (IPEndPoint.TryParse(text, out IPEndPoint? ip) && text.Contains(':', StringComparison.Ordinal) && ip.Port > 0)
        {
            endpoint = ip;
            return true;
        }

        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            return false;
        }

        string host = text[..colon];
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            return false;
        }

        endpoint = new DnsEndPoint(host, port);
        return true;
    }
}
