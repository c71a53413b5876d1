using Microsoft.Extensions.Caching.Distributed;

namespace SmdSs;

/// <summary>What an <see cref="ISmdSsEntryProcessor"/> does to its entry, and what it answers.</summary>
public sealed class SmdSsProcessorResult
{
    private SmdSsProcessorResult(ProcessorAction action, byte[] value, DistributedCacheEntryOptions? options, byte[] reply)
    {
        Action = action;
        Value = value;
        Options = options;
        Reply = reply;
    }

    internal enum ProcessorAction
    {
        Keep,
        Set,
        Remove,
    }

    internal ProcessorAction Action { get; }

    internal byte[] Value { get; }

    internal DistributedCacheEntryOptions? Options { get; }

    internal byte[] Reply { get; }

    /// <summary>Leaves the entry as it is.</summary>
    /// <param name="reply">The caller's answer (at most <see cref="SmdSsLimits.MaxReplyBytes"/> bytes).</param>
    public static SmdSsProcessorResult Keep(ReadOnlySpan<byte> reply = default) => new(ProcessorAction.Keep, [], null, reply.ToArray());

    /// <summary>Stores <paramref name="value"/>.</summary>
    /// <param name="value">The new value (at most <see cref="SmdSsOptions.MaxValueBytes"/> bytes).</param>
    /// <param name="reply">The caller's answer (at most <see cref="SmdSsLimits.MaxReplyBytes"/> bytes).</param>
    /// <param name="options">The new expiration; null keeps the entry's current one (none for a new entry).</param>
    public static SmdSsProcessorResult Set(ReadOnlySpan<byte> value, ReadOnlySpan<byte> reply = default, DistributedCacheEntryOptions? options = null) =>
        new(ProcessorAction.Set, value.ToArray(), options, reply.ToArray());

    /// <summary>Removes the entry.</summary>
    /// <param name="reply">The caller's answer (at most <see cref="SmdSsLimits.MaxReplyBytes"/> bytes).</param>
    public static SmdSsProcessorResult Remove(ReadOnlySpan<byte> reply = default) => new(ProcessorAction.Remove, [], null, reply.ToArray());
}
