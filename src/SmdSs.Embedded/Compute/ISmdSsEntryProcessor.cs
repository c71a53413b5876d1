namespace SmdSs;

/// <summary>
/// A named computation that runs on a key's primary, atomically with respect to every other
/// write of that key, and whose new value is replicated like any write. Register it on every
/// node with <c>services.AddSmdSs(...).AddProcessor&lt;T&gt;()</c> and call it with
/// <see cref="ISmdSsKeyValueStore.ExecuteAsync"/>.
/// </summary>
/// <remarks>
/// <see cref="Process"/> runs while the key is locked on its primary: keep it short, pure and
/// free of I/O. It may run again for the same call when the caller retries after a primary
/// died mid-call (a retry at the same primary is answered from memory instead).
/// </remarks>
public interface ISmdSsEntryProcessor
{
    /// <summary>The name callers pass to <see cref="ISmdSsKeyValueStore.ExecuteAsync"/>; the same on every node.</summary>
    string Name { get; }

    /// <summary>Computes the entry's new state and the caller's answer from its current state and the caller's argument.</summary>
    /// <param name="entry">The key's current value (<see cref="SmdSsEntry.Exists"/> is false when missing).</param>
    /// <param name="argument">The caller's argument.</param>
    SmdSsProcessorResult Process(SmdSsEntry entry, ReadOnlyMemory<byte> argument);
}
