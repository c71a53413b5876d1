using System.Globalization;

namespace SmdSs.Benchmarks;

internal enum CacheOperation
{
    Get,
    Set,
}

/// <summary>One load shape: which operation, how large the values are, how many threads call at once.</summary>
internal sealed record Scenario(CacheOperation Operation, int ValueBytes, int Threads)
{
    public string ValueSize => ValueBytes % 1024 == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{ValueBytes / 1024} KiB")
        : string.Create(CultureInfo.InvariantCulture, $"{ValueBytes} B");

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Operation} {ValueSize} x{Threads}");
}
