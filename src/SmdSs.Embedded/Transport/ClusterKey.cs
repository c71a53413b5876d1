using System.Security.Cryptography;

namespace SmdSs.Transport;

/// <summary>
/// The 256-bit key a cluster secret stands for, computed once at start. A secret that is the
/// base64 of exactly 32 bytes (<c>openssl rand -base64 32</c>) is that key; any other secret is a
/// passphrase, stretched with PBKDF2-HMAC-SHA256 (600,000 iterations, a fixed salt: every node
/// must derive the same key) so that each guess of it costs as much as the stretch.
/// </summary>
internal static class ClusterKey
{
    public const int Bytes = 32;
    public const int Pbkdf2Iterations = 600_000;
    private static readonly byte[] Salt = "smdss/cluster-secret/v2"u8.ToArray();

    public static byte[] FromSecret(string secret)
    {
        Span<byte> decoded = stackalloc byte[48];
        if (Convert.TryFromBase64String(secret, decoded, out int length) && length == Bytes)
        {
            return decoded[..Bytes].ToArray();
        }

        return Rfc2898DeriveBytes.Pbkdf2(secret, Salt, Pbkdf2Iterations, HashAlgorithmName.SHA256, Bytes);
    }

    /// <summary>A new random key in the form <see cref="FromSecret"/> takes as is.</summary>
    public static string NewRandomSecret() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(Bytes));
}
