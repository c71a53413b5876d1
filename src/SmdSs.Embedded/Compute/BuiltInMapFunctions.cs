using System.Text;
using SmdSs.Protocol;

namespace SmdSs.Compute;

/// <summary>
/// The map functions every node has: key counts (argument: the UTF-8 prefix, empty for all keys)
/// and prefix scans in pages (<see cref="PageArgument"/>). Their partials are decoded by
/// <see cref="SmdSsComputeExtensions"/>.
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

    /// <summary>
    /// The argument of a scan page: <c>string prefix | u8 hasAfter | string after | u32 maxBytes</c>.
    /// A page holds the lowest keys (ordinal) with the prefix past <c>after</c>, up to about
    /// <c>maxBytes</c> of encoded items (at least one), so that neither the frame nor the node's
    /// memory grows with the slice.
    /// </summary>
    public static byte[] PageArgument(string prefix, string? after, int maxBytes)
    {
        var writer = new MessageWriter().String(prefix).Bool(after is not null);
        writer.String(after ?? "");
        return writer.U32((uint)maxBytes).ToArray();
    }

    /// <summary>
    /// The page of <paramref name="entries"/> an argument asks for: <c>bool more | u32 count |
    /// count x item</c>, the items in ordinal key order. A bounded heap keeps only the page's
    /// candidates, never the slice.
    /// </summary>
    private static byte[] Page(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument, bool withValues)
    {
        var reader = new MessageReader(argument.Span);
        string prefix = reader.String();
        bool hasAfter = reader.Bool();
        string after = reader.String();
        int maxBytes = (int)Math.Min(reader.U32(), int.MaxValue);
        reader.ExpectEnd();

        // The page: a max-heap by key of the lowest keys taken so far, trimmed to the byte budget.
        var page = new PriorityQueue<SmdSsEntry, string>(Comparer<string>.Create((a, b) => string.CompareOrdinal(b, a)));
        long pageBytes = 0;
        bool more = false;
        foreach (SmdSsEntry entry in entries)
        {
            if (!entry.Key.StartsWith(prefix, StringComparison.Ordinal) || (hasAfter && string.CompareOrdinal(entry.Key, after) <= 0))
            {
                continue;
            }

            if (page.Count > 0 && pageBytes >= maxBytes && string.CompareOrdinal(entry.Key, page.Peek().Key) > 0)
            {
                more = true;
                continue;
            }

            page.Enqueue(entry, entry.Key);
            pageBytes += ItemBytes(entry, withValues);
            while (page.Count > 1 && pageBytes - ItemBytes(page.Peek(), withValues) >= maxBytes)
            {
                pageBytes -= ItemBytes(page.Dequeue(), withValues);
                more = true;
            }
        }

        var items = new List<SmdSsEntry>(page.Count);
        while (page.Count > 0)
        {
            items.Add(page.Dequeue());
        }

        items.Reverse();
        var writer = new MessageWriter().Bool(more).U32((uint)items.Count);
        foreach (SmdSsEntry item in items)
        {
            writer.String(item.Key);
            if (withValues)
            {
                writer.Bytes(item.Value.Span);
            }
        }

        return writer.ToArray();
    }

    private static long ItemBytes(SmdSsEntry entry, bool withValue) => 2 + Encoding.UTF8.GetByteCount(entry.Key) + (withValue ? 4 + entry.Value.Length : 0);

    /// <summary>Partial: a page of keys (see <see cref="Page"/>).</summary>
    private sealed class ScanKeys : ISmdSsMapFunction
    {
        public string Name => Keys;

        public byte[] Map(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument) => Page(entries, argument, withValues: false);
    }

    /// <summary>Partial: a page of keys and values (see <see cref="Page"/>).</summary>
    private sealed class ScanEntries : ISmdSsMapFunction
    {
        public string Name => Scan;

        public byte[] Map(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument) => Page(entries, argument, withValues: true);
    }
}
