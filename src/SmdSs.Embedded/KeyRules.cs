using System.Text;

namespace SmdSs;

/// <summary>Validation of keys and values shared by every entry point.</summary>
internal static class KeyRules
{
    // Strict: a lone surrogate would otherwise turn into U+FFFD on disk and come back as another key.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static void ValidateKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0)
        {
            throw new ArgumentException("The key must not be empty.", nameof(key));
        }

        int bytes;
        try
        {
            bytes = StrictUtf8.GetByteCount(key);
        }
        catch (EncoderFallbackException ex)
        {
            throw new ArgumentException("The key is not valid UTF-16 text (it holds a lone surrogate).", nameof(key), ex);
        }

        if (bytes > SmdSsLimits.MaxKeyBytes)
        {
            throw new ArgumentException($"The key is {bytes} UTF-8 bytes; the limit is {SmdSsLimits.MaxKeyBytes}.", nameof(key));
        }
    }

    public static void ValidateValueLength(long length, int maxValueBytes, string paramName = "value")
    {
        if (length > maxValueBytes)
        {
            throw new ArgumentException($"The value is {length} bytes; the limit (SmdSs:MaxValueBytes) is {maxValueBytes}.", paramName);
        }
    }
}
