using System.Text;
using SmdSs.Protocol;

namespace SmdSs.Compute;

/// <summary>
/// The map functions every node has: key counts and prefix scans (argument: the UTF-8 prefix,
/// empty for all keys). Their partials are decoded by <see cref="SmdSsComputeExtensions"/>.
/// </summary>
internal static class BuiltInMapFunctions
{
    public const string Count = "smdss.count";
    public const string Keys = "smdss.keys";
    public const string Scan = "smdss.scan";

    /// <summary>Names starting with this are reserved for the built-in functions.</summary>
    public const string ReservedPrefix = "smdss.";

    public static IEnumerable<ISmdSsMapFunction> All => [new CountKeys(), new ScanKeys(), new ScanEntries()];

    private static IEnumerable<SmdSsEntry> WithPrefix(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> prefix)
    {
        string start = Encoding.UTF8.GetString(prefix.Span);
        return start.Length == 0 ? entries : entries.Where(e => e.Key.StartsWith(start, StringComparison.Ordinal));
    }

    /// <summary>Partial: <c>i64 count</c>.</summary>
    private sealed class CountKeys : ISmdSsMapFunction
    {
        public string Name => Count;

        public byte[] Map(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument) =>
            new MessageWriter().I64(WithPrefix(entries, argument).LongCount()).ToArray();
    }

    /// <summary>Partial: <c>u32 count | count x string key</c>.</summary>
    private sealed class ScanKeys : ISmdSsMapFunction
    {
        public string Name => Keys;

        public byte[] Map(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument)
        {
            List<SmdSsEntry> found = [.. WithPrefix(entries, argument)];
            var writer = new MessageWriter().U32((uint)found.Count);
            foreach (SmdSsEntry entry in found)
            {
                writer.String(entry.Key);
            }

            return writer.ToArray();
        }
    }

    /// <summary>Partial: <c>u32 count | count x (string key | bytes value)</c>.</summary>
    private sealed class ScanEntries : ISmdSsMapFunction
    {
        public string Name => Scan;

        public byte[] Map(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument)
        {
            List<SmdSsEntry> found = [.. WithPrefix(entries, argument)];
            var writer = new MessageWriter().U32((uint)found.Count);
            foreach (SmdSsEntry entry in found)
            {
                writer.String(entry.Key).Bytes(entry.Value.Span);
            }

            return writer.ToArray();
        }
    }
}
