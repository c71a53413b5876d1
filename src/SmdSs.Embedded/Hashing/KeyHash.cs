using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace SmdSs.Hashing;

/// <summary>
/// The stable 32-bit hash that places a key on the pie. XxHash32 (seed 0) of the key's UTF-8
/// bytes: the same value in every process, on every machine, in every .NET version —
/// unlike <see cref="string.GetHashCode()"/>, which is randomized per process.
/// </summary>
internal static class KeyHash
{
    private const int StackLimitBytes = 512;

    public static uint Of(string key)
    {
        int maxBytes = Encoding.UTF8.GetMaxByteCount(key.Length);
        if (maxBytes <= StackLimitBytes)
        {
            Span<byte> buffer = stackalloc byte[StackLimitBytes];
            int written = Encoding.UTF8.GetBytes(key, buffer);
            return XxHash32.HashToUInt32(buffer[..written]);
        }

        byte[] rented = ArrayPool<byte>.Shared.Rent(maxBytes);
        try
        {
            int written = Encoding.UTF8.GetBytes(key, rented);
            return XxHash32.HashToUInt32(rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public static uint Of(ReadOnlySpan<byte> utf8Key) => XxHash32.HashToUInt32(utf8Key);
}
