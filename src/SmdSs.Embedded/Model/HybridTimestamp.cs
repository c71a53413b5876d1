namespace SmdSs.Model;

/// <summary>
/// A write's version: <c>physicalMs &lt;&lt; 16 | logical</c>, wall-clock milliseconds with a
/// logical counter that orders writes within one millisecond (issued by <c>Replication.HybridClock</c>).
/// </summary>
internal static class HybridTimestamp
{
    public const int LogicalBits = 16;

    public static long PhysicalMsOf(long version) => version >> LogicalBits;

    /// <summary>The lowest version issued at <paramref name="physicalMs"/>.</summary>
    public static long FirstVersionAt(long physicalMs) => physicalMs << LogicalBits;
}
