namespace SmdSs;

/// <summary>A value with its version, for <see cref="ISmdSsKeyValueStore.CompareAndSwapAsync"/>.</summary>
/// <param name="Value">The value.</param>
/// <param name="Version">The version of this write of the key; every write gets a new, larger one.</param>
public sealed record SmdSsVersionedValue(byte[] Value, long Version);

/// <summary>The outcome of <see cref="ISmdSsKeyValueStore.CompareAndSwapAsync"/>.</summary>
/// <param name="Swapped">True when the key still had the expected version and now holds the new value.</param>
/// <param name="Version">The key's version now: the new value's when swapped, else the current one (0 when missing).</param>
public readonly record struct SmdSsSwapResult(bool Swapped, long Version);
