using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Compute;

/// <summary>The live entry an atomic operation starts from (Version 0: missing).</summary>
internal readonly record struct CurrentEntry(long Version, EntryExpiry Expiry, byte[] Value)
{
    public bool Exists => Version != 0;
}

/// <summary>
/// What an atomic operation writes (null: nothing) and how its answer reads once the version of
/// the key is known (the new version when it wrote, else the current one).
/// </summary>
internal sealed record AtomicChange(StorageRecord? Write, Func<long, byte[]> Answer);

/// <summary>
/// The read-modify-write step of each atomic operation, decided from the current entry: pure,
/// apart from the entry processor it calls. Runs under the key's lock on its primary.
/// </summary>
/// <exception cref="InvalidOperationException">The value does not fit the operation (not a counter, overflow).</exception>
/// <exception cref="ArgumentException">The result would be over MaxValueBytes.</exception>
/// <exception cref="SmdSsProcessorException">The processor is unknown, threw, or broke a limit.</exception>
internal static class AtomicUpdate
{
    public static AtomicChange Decide(AtomicRequest request, CurrentEntry current, int maxValueBytes, Func<string, ISmdSsEntryProcessor?> processors, DateTimeOffset now)
    {
        string key = request.Key;
        switch (request.Kind)
        {
            case AtomicKind.Increment:
                byte[] counter = CounterValue.Add(key, current.Value, current.Exists, request.Number, out long sum);
                return new AtomicChange(Put(key, KeepOr(current, request.Expiry), counter), _ => new MessageWriter().I64(sum).ToArray());
            case AtomicKind.Append:
                long length = (long)current.Value.Length + request.Value.Length;
                KeyRules.ValidateValueLength(length, maxValueBytes);
                byte[] appended = [.. current.Value, .. request.Value];
                return new AtomicChange(Put(key, KeepOr(current, request.Expiry), appended), _ => new MessageWriter().I64(length).ToArray());
            case AtomicKind.CompareAndSwap:
                KeyRules.ValidateValueLength(request.Value.Length, maxValueBytes);
                bool matches = current.Version == request.Number;
                return new AtomicChange(matches ? Put(key, request.Expiry, request.Value) : null, version => new MessageWriter().Bool(matches).I64(version).ToArray());
            case AtomicKind.Complete:
                // Add if absent: a value that appeared meanwhile (another caller's, a Set) wins.
                byte[] winner = current.Exists ? current.Value : request.Value;
                return new AtomicChange(current.Exists ? null : Put(key, request.Expiry, request.Value), _ => winner);
            case AtomicKind.Execute:
                return Execute(request, current, maxValueBytes, processors(request.Name), now);
            default:
                throw new ArgumentException($"{request.Kind} is not a read-modify-write operation.", nameof(request));
        }
    }

    private static AtomicChange Execute(AtomicRequest request, CurrentEntry current, int maxValueBytes, ISmdSsEntryProcessor? processor, DateTimeOffset now)
    {
        if (processor is null)
        {
            throw new SmdSsProcessorException($"No entry processor named '{request.Name}' is registered on the primary of '{request.Key}'; register it on every node with AddProcessor<T>().");
        }

        SmdSsProcessorResult result;
        try
        {
            result = processor.Process(new SmdSsEntry(request.Key, current.Version, current.Value), request.Value)
                ?? throw new InvalidOperationException("it returned null");
        }
#pragma warning disable CA1031 // Any failure of user code is reported to the caller; nothing was changed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            throw new SmdSsProcessorException($"Entry processor '{request.Name}' failed on '{request.Key}': {ex.GetType().Name}: {ex.Message}", ex);
        }

        if (result.Reply.Length > SmdSsLimits.MaxReplyBytes)
        {
            throw new SmdSsProcessorException($"Entry processor '{request.Name}' answered {result.Reply.Length} bytes; the limit is {SmdSsLimits.MaxReplyBytes}.");
        }

        byte[] reply = result.Reply;
        switch (result.Action)
        {
            case SmdSsProcessorResult.ProcessorAction.Set:
                if (result.Value.Length > maxValueBytes)
                {
                    throw new SmdSsProcessorException($"Entry processor '{request.Name}' made a value of {result.Value.Length} bytes; SmdSs:MaxValueBytes is {maxValueBytes}.");
                }

                EntryExpiry expiry;
                try
                {
                    expiry = result.Options is null ? KeepOr(current, EntryExpiry.None) : EntryExpiry.FromOptions(result.Options, now);
                }
                catch (ArgumentOutOfRangeException ex)
                {
                    throw new SmdSsProcessorException($"Entry processor '{request.Name}' gave a bad expiration: {ex.Message}", ex);
                }

                return new AtomicChange(Put(request.Key, expiry, result.Value), _ => reply);
            case SmdSsProcessorResult.ProcessorAction.Remove:
                return new AtomicChange(current.Exists ? new StorageRecord(RecordKind.Delete, request.Key, 0, EntryExpiry.None, []) : null, _ => reply);
            default:
                return new AtomicChange(null, _ => reply);
        }
    }

    // An update keeps the entry's expiration; a new entry gets the caller's.
    private static EntryExpiry KeepOr(CurrentEntry current, EntryExpiry expiry) => current.Exists ? current.Expiry : expiry;

    private static StorageRecord Put(string key, EntryExpiry expiry, byte[] value) => new(RecordKind.Put, key, 0, expiry, value);
}
