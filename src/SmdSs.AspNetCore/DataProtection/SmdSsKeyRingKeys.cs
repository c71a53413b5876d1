using System.Security.Cryptography;
using System.Text;
using SmdSs.Transport;

namespace SmdSs.AspNetCore.DataProtection;

/// <summary>
/// The keys that encrypt the Data Protection key ring at rest: one per accepted cluster secret,
/// derived by HKDF from the secret's cluster key, computed once. The first (from
/// <see cref="SmdSsOptions.ClusterSecret"/>) encrypts; all of them decrypt, so a ring written
/// before a secret rotation stays readable while the old secret is still accepted.
/// </summary>
/// <remarks>
/// An encrypted element: <c>&lt;smdssEncryptedKey&gt;&lt;value&gt;base64(12 B nonce | ciphertext | 16 B tag)&lt;/value&gt;&lt;/smdssEncryptedKey&gt;</c>,
/// AES-GCM of the element's UTF-8 XML with <see cref="AssociatedData"/>.
/// </remarks>
internal sealed class SmdSsKeyRingKeys
{
    public const string ElementName = "smdssEncryptedKey";
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private static readonly byte[] Info = "smdss/data-protection v1"u8.ToArray();
    private static readonly byte[] AssociatedData = "smdss/data-protection v1"u8.ToArray();
    private readonly byte[][] _keys;

    public SmdSsKeyRingKeys(SmdSsOptions options)
    {
        IEnumerable<string> secrets = options.ClusterSecret is null ? [] : [options.ClusterSecret, .. options.AdditionalClusterSecrets];
        _keys = [.. secrets.Select(s => HKDF.DeriveKey(HashAlgorithmName.SHA256, ClusterKey.FromSecret(s), 32, [], Info))];
    }

    /// <summary>Whether the node has a secret to encrypt with.</summary>
    public bool CanEncrypt => _keys.Length > 0;

    public string Encrypt(string plaintext)
    {
        byte[] plain = Encoding.UTF8.GetBytes(plaintext);
        byte[] sealedBytes = new byte[NonceBytes + plain.Length + TagBytes];
        Span<byte> nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_keys[0], TagBytes);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceBytes, plain.Length), sealedBytes.AsSpan(NonceBytes + plain.Length), AssociatedData);
        CryptographicOperations.ZeroMemory(plain);
        return Convert.ToBase64String(sealedBytes);
    }

    /// <exception cref="CryptographicException">No accepted secret's key opens it (the ring was written under a secret no longer accepted, or changed).</exception>
    public string Decrypt(string encrypted)
    {
        byte[] sealedBytes = Convert.FromBase64String(encrypted);
        if (sealedBytes.Length < NonceBytes + TagBytes)
        {
            throw new CryptographicException("The encrypted key-ring element is too short.");
        }

        int length = sealedBytes.Length - NonceBytes - TagBytes;
        byte[] plain = new byte[length];
        foreach (byte[] key in _keys)
        {
            using var aes = new AesGcm(key, TagBytes);
            try
            {
                aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes, length), sealedBytes.AsSpan(NonceBytes + length), plain, AssociatedData);
                return Encoding.UTF8.GetString(plain);
            }
            catch (AuthenticationTagMismatchException)
            {
                // Another accepted secret may have written it.
            }
        }

        throw new CryptographicException(
            "A Data Protection key in SMD-SS was encrypted under a cluster secret this node does not accept: keep the old secret in SmdSs:AdditionalClusterSecrets until the keys written under it have expired.");
    }
}
