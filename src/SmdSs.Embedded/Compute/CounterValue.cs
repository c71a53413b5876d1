using System.Buffers.Text;

namespace SmdSs.Compute;

/// <summary>
/// A counter's stored form: ASCII decimal, as Redis keeps INCR counters, so that a counter reads
/// as a string and a string of digits counts as a counter.
/// </summary>
internal static class CounterValue
{
    /// <summary>The new stored value after adding <paramref name="delta"/> to <paramref name="current"/> (null: missing, counts as 0).</summary>
    /// <exception cref="InvalidOperationException">The current value is not a 64-bit decimal integer, or the sum overflows.</exception>
    public static byte[] Add(string key, ReadOnlySpan<byte> current, bool exists, long delta, out long sum)
    {
        long value = 0;
        if (exists && !(Utf8Parser.TryParse(current, out value, out int consumed) && consumed == current.Length && current.Length > 0))
        {
            throw new InvalidOperationException($"The value of '{key}' is not a 64-bit decimal integer; it cannot be incremented.");
        }

        try
        {
            sum = checked(value + delta);
        }
        catch (OverflowException ex)
        {
            throw new InvalidOperationException($"Incrementing '{key}' ({value}) by {delta} overflows a 64-bit integer.", ex);
        }

        return Format(sum);
    }

    public static byte[] Format(long value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out int written);
        return digits[..written].ToArray();
    }
}
