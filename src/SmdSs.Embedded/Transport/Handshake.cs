using System.Security.Cryptography;
using System.Text;
using SmdSs.Membership;
using SmdSs.Protocol;

namespace SmdSs.Transport;

/// <summary>
/// The first exchange on every connection, before any other frame is read. Each side proves it
/// knows the cluster secret without sending it: an HMAC-SHA256 over both nonces and both node
/// ids, keyed by SHA-256 of the secret (a fixed key when no secret is set, so that a node with a
/// secret and one without fail each other).
/// </summary>
/// <remarks>
/// <code>
///   client → Hello          u64 clientId | string clientEndpoint | 16 B clientNonce
///   server → HelloChallenge u64 serverId | 16 B serverNonce | 32 B HMAC("server", clientNonce, serverNonce, serverId, clientId)
///   client → HelloProof     32 B HMAC("client", serverNonce, clientNonce, clientId, serverId)
///   server → HelloOk        (empty), or Error with the reason, then close
/// </code>
/// </remarks>
internal sealed class Handshake(string? clusterSecret)
{
    public const int NonceBytes = 16;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly byte[] _key = SHA256.HashData(Encoding.UTF8.GetBytes(clusterSecret ?? "smdss-no-cluster-secret"));

    public static byte[] NewNonce() => RandomNumberGenerator.GetBytes(NonceBytes);

    public byte[] ServerProof(ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> serverNonce, NodeId server, NodeId client) =>
        Proof("server", clientNonce, serverNonce, server, client);

    public byte[] ClientProof(ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> clientNonce, NodeId client, NodeId server) =>
        Proof("client", serverNonce, clientNonce, client, server);

    public static bool ProofMatches(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual) =>
        CryptographicOperations.FixedTimeEquals(expected, actual);

    private byte[] Proof(string role, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, NodeId a, NodeId b)
    {
        var writer = new MessageWriter().String(role).Raw(first).Raw(second).U64(a.Value).U64(b.Value);
        return HMACSHA256.HashData(_key, writer.WrittenSpan);
    }
}
