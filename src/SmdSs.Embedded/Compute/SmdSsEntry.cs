namespace SmdSs;

/// <summary>
/// One key as an entry processor or a map function sees it on the node that runs it. The value
/// is read-only: a processor changes it by returning a <see cref="SmdSsProcessorResult"/>.
/// </summary>
public sealed class SmdSsEntry
{
    private readonly Func<ReadOnlyMemory<byte>>? _load;
    private ReadOnlyMemory<byte> _value;
    private bool _loaded;

    internal SmdSsEntry(string key, long version, ReadOnlyMemory<byte> value)
    {
        Key = key;
        Version = version;
        _value = value;
        _loaded = true;
    }

    // A map function that looks only at keys never reads a value evicted to disk.
    internal SmdSsEntry(string key, long version, Func<ReadOnlyMemory<byte>> load)
    {
        Key = key;
        Version = version;
        _load = load;
    }

    /// <summary>The key.</summary>
    public string Key { get; }

    /// <summary>True when the key holds a live value; false for a processor called on a missing key.</summary>
    public bool Exists => Version != 0;

    /// <summary>The version of the value (what <see cref="ISmdSsKeyValueStore.GetVersionedAsync"/> returns); 0 when missing.</summary>
    public long Version { get; }

    /// <summary>The value; empty when the key is missing.</summary>
    public ReadOnlyMemory<byte> Value
    {
        get
        {
            if (!_loaded)
            {
                _value = _load!();
                _loaded = true;
            }

            return _value;
        }
    }
}
