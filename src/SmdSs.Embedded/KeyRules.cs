using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace SmdSs;

/// <summary>Validation of keys and values shared by every entry point.</summary>
internal static class KeyRules
{
    // Strict: a lone surrogate would otherwise turn into U+FFFD on disk and come back as another key.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Validates the key and returns its hash (see <see cref="Hashing.KeyHash"/>) from the same
    /// single UTF-8 encoding pass: the request path's one look at the key's bytes.
    /// </summary>
    public static uint ValidateAndHash(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0)
        {
            throw new ArgumentException("The key must not be empty.", nameof(key));
        }

        // Every UTF-16 unit takes at least one UTF-8 byte, so a longer key is over the limit.
        if (key.Length > SmdSsLimits.MaxKeyBytes)
        {
            throw new ArgumentException($"The key is over {SmdSsLimits.MaxKeyBytes} UTF-8 bytes.", nameof(key));
        }

        int maxBytes = key.Length * 3;
        byte[]? rented = maxBytes > 512 ? ArrayPool<byte>.Shared.Rent(maxBytes) : null;
        Span<byte> buffer = rented ?? stackalloc byte[512];
        try
        {
            int written;
            try
            {
                written = StrictUtf8.GetBytes(key, buffer);
            }
            catch (EncoderFallbackException ex)
            {
                throw new ArgumentException("The key is not valid UTF-16 text (it holds a lone surrogate).", nameof(key), ex);
            }

            if (written > SmdSsLimits.MaxKeyBytes)
            {
                throw new ArgumentException($"The key is {written} UTF-8 bytes; the limit is {SmdSsLimits.MaxKeyBytes}.", nameof(key));
            }

            return XxHash32.HashToUInt32(buffer[..written]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Refuses a key of SMD-SS's own (<see cref="SmdSsLimits.ReservedKeyPrefix"/>) at the public API.</summary>
    public static void RefuseReserved(string key)
    {
        if (IsReserved(key))
        {
            throw new ArgumentException(
                $"Keys starting with '{SmdSsLimits.ReservedKeyPrefix}' are reserved for SMD-SS's own data (the Data Protection key ring) and cannot be read or written through the API.",
                nameof(key));
        }
    }

    public static bool IsReserved(string? key) => key is not null && key.StartsWith(SmdSsLimits.ReservedKeyPrefix, StringComparison.Ordinal);

    public static void ValidateValueLength(long length, int maxValueBytes, string paramName = "value")
    {
        if (length > maxValueBytes)
        {
            throw new ArgumentException($"The value is {length} bytes; the limit (SmdSs:MaxValueBytes) is {maxValueBytes}.", paramName);
        }
    }
}
