using System.Security.Cryptography;
using System.Text;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Transport;

/// <summary>
/// The first exchange on every connection, before any other frame is read. The client proves it
/// knows the cluster secret first; the server answers with a proof of its own only to a client
/// that proved itself, so a connection that has not authenticated never receives a value computed
/// from the secret. With a secret, both sides then seal every frame (<see cref="FrameSealer"/>)
/// under keys of this connection alone, derived by HKDF from the secret and both nonces.
/// </summary>
/// <remarks>
/// <code>
///   client → Hello          u64 clientId | string clientEndpoint | 16 B clientNonce
///   server → HelloChallenge u64 serverId | 16 B serverNonce
///   client → HelloProof     32 B HMAC(authKey, "client" | Hello payload | HelloChallenge payload)
///   server → HelloOk        32 B HMAC(authKey, "server" | Hello payload | HelloChallenge payload | client proof),
///                           or Error with the reason, then close
///   authKey = HKDF-Expand(clusterKey, "smdss/v2 handshake")
///   sealing keys (64 B, client→server then server→client) =
///           HKDF(clusterKey, salt = clientNonce | serverNonce, info = "smdss/v2 session" | Hello payload | HelloChallenge payload)
/// </code>
/// A client offers only its <see cref="SmdSsOptions.ClusterSecret"/>; a server accepts it or any
/// of <see cref="SmdSsOptions.AdditionalClusterSecrets"/>, and answers and seals with the one that
/// matched, which is how a farm rolls a new secret in one node at a time. Without a secret the
/// proofs use a fixed public key (so a node with a secret and one without fail each other) and
/// frames travel in clear.
/// </remarks>
internal sealed class Handshake
{
    public const int NonceBytes = 16;

    /// <summary>The largest frame either side reads before the other proved the secret.</summary>
    public const int MaxFrameBytes = 4096;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private static readonly byte[] NoSecretKey = SHA256.HashData("smdss-no-cluster-secret"u8);
    private static readonly byte[] ClientRole = Encoding.ASCII.GetBytes("client");
    private static readonly byte[] ServerRole = Encoding.ASCII.GetBytes("server");
    private readonly byte[][] _clusterKeys;
    private readonly byte[][] _authKeys;

    /// <param name="clusterSecret">The secret this node offers (and accepts); null for none.</param>
    /// <param name="additionalSecrets">Secrets accepted from clients besides it, never offered.</param>
    public Handshake(string? clusterSecret, IEnumerable<string>? additionalSecrets = null)
    {
        Seals = clusterSecret is not null;
        IEnumerable<string> accepted = clusterSecret is null ? [] : [clusterSecret, .. additionalSecrets ?? []];
        _clusterKeys = Seals ? [.. accepted.Select(ClusterKey.FromSecret)] : [NoSecretKey];
        _authKeys = [.. _clusterKeys.Select(k => HKDF.Expand(HashAlgorithmName.SHA256, k, 32, "smdss/v2 handshake"u8.ToArray()))];
    }

    /// <summary>Whether frames after the handshake are sealed (the node has a cluster secret).</summary>
    public bool Seals { get; }

    public static byte[] NewNonce() => RandomNumberGenerator.GetBytes(NonceBytes);

    public static byte[] HelloPayload(NodeId client, string clientEndpoint, ReadOnlySpan<byte> clientNonce) =>
        new MessageWriter().U64(client.Value).String(clientEndpoint).Raw(clientNonce).ToArray();

    public static byte[] ChallengePayload(NodeId server, ReadOnlySpan<byte> serverNonce) =>
        new MessageWriter().U64(server.Value).Raw(serverNonce).ToArray();

    /// <exception cref="ProtocolException">Not a whole Hello payload.</exception>
    public static (NodeId Client, string Endpoint, byte[] Nonce) ReadHello(ReadOnlySpan<byte> payload)
    {
        var reader = new MessageReader(payload);
        var client = new NodeId(reader.U64());
        string endpoint = reader.String();
        byte[] nonce = reader.BytesFixed(NonceBytes);
        reader.ExpectEnd();
        return (client, endpoint, nonce);
    }

    /// <exception cref="ProtocolException">Not a whole HelloChallenge payload.</exception>
    public static (NodeId Server, byte[] Nonce) ReadChallenge(ReadOnlySpan<byte> payload)
    {
        var reader = new MessageReader(payload);
        var server = new NodeId(reader.U64());
        byte[] nonce = reader.BytesFixed(NonceBytes);
        reader.ExpectEnd();
        return (server, nonce);
    }

    /// <summary>The client's proof, with the secret it offers.</summary>
    public byte[] ClientProof(ReadOnlySpan<byte> hello, ReadOnlySpan<byte> challenge) => Mac(_authKeys[0], ClientRole, hello, challenge, []);

    /// <summary>Which accepted secret the client's proof was made with, or -1 for none.</summary>
    public int MatchClientProof(ReadOnlySpan<byte> hello, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> proof)
    {
        int match = -1;
        for (int i = _authKeys.Length - 1; i >= 0; i--)
        {
            // Every key is tried, so the time taken says nothing about which matched.
            if (CryptographicOperations.FixedTimeEquals(Mac(_authKeys[i], ClientRole, hello, challenge, []), proof))
            {
                match = i;
            }
        }

        return match;
    }

    /// <summary>The server's answer to a client whose proof matched secret <paramref name="keyIndex"/>.</summary>
    public byte[] ServerProof(int keyIndex, ReadOnlySpan<byte> hello, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> clientProof) =>
        Mac(_authKeys[keyIndex], ServerRole, hello, challenge, clientProof);

    public bool ServerProofMatches(ReadOnlySpan<byte> hello, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> clientProof, ReadOnlySpan<byte> serverProof) =>
        CryptographicOperations.FixedTimeEquals(ServerProof(0, hello, challenge, clientProof), serverProof);

    /// <summary>The sealers of a connection authenticated with secret <paramref name="keyIndex"/>: client→server, server→client.</summary>
    public (FrameSealer ClientToServer, FrameSealer ServerToClient) Sealers(
        int keyIndex, ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> hello, ReadOnlySpan<byte> challenge)
    {
        byte[] salt = [.. clientNonce, .. serverNonce];
        byte[] info = [.. "smdss/v2 session"u8, .. hello, .. challenge];
        Span<byte> keys = stackalloc byte[2 * ClusterKey.Bytes];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _clusterKeys[keyIndex], keys, salt, info);
        var sealers = (new FrameSealer(keys[..ClusterKey.Bytes]), new FrameSealer(keys[ClusterKey.Bytes..]));
        CryptographicOperations.ZeroMemory(keys);
        return sealers;
    }

    private static byte[] Mac(byte[] key, byte[] role, ReadOnlySpan<byte> hello, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> clientProof)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(role);
        hmac.AppendData(hello);
        hmac.AppendData(challenge);
        hmac.AppendData(clientProof);
        return hmac.GetHashAndReset();
    }
}
