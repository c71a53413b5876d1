namespace SmdSs;

/// <summary>
/// A named map function of a map-reduce over the whole cluster: it runs once per slice, on a
/// node holding an up-to-date copy (the primary first), over that slice's live entries, and
/// returns a partial result that the caller of <see cref="ISmdSsKeyValueStore.MapAsync"/>
/// reduces. Register it on every node with <c>services.AddSmdSs(...).AddMapFunction&lt;T&gt;()</c>.
/// </summary>
/// <remarks>
/// A slice whose node dies mid-query is mapped again on another replica, so <see cref="Map"/>
/// must depend only on the entries and the argument. It runs on a cluster thread: keep it free
/// of I/O. Reading <see cref="SmdSsEntry.Value"/> may read the value from disk (when evicted
/// from memory); a function that needs only keys should not touch it.
/// </remarks>
public interface ISmdSsMapFunction
{
    /// <summary>The name callers pass to <see cref="ISmdSsKeyValueStore.MapAsync"/>; the same on every node.</summary>
    string Name { get; }

    /// <summary>The partial result of one slice (at most <see cref="SmdSsOptions.MaxValueBytes"/> bytes).</summary>
    /// <param name="entries">The slice's live entries, in no particular order.</param>
    /// <param name="argument">The caller's argument.</param>
    byte[] Map(IEnumerable<SmdSsEntry> entries, ReadOnlyMemory<byte> argument);
}
