using SmdSs.Compute;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Map over the cluster: one request per slice, all in parallel, each to a node that may answer
/// reads of the slice (its primary first, then its other in-sync replicas in turn). A slice whose
/// node fails, refuses (no longer primary, no lease) or knows it by another range is asked
/// again — on the next replica, or as the halves it was split into — until every slice of the
/// hash space has exactly one partial, or RequestTimeout passes without progress.
/// </summary>
public sealed partial class SmdSsNode
{
    private readonly Dictionary<string, ISmdSsMapFunction> _mapFunctions = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<byte[]>> MapAsync(string mapFunctionName, ReadOnlyMemory<byte> argument = default, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(mapFunctionName);
        cancellationToken.ThrowIfCancellationRequested();
        RunningStore();
        if (!_mapFunctions.ContainsKey(mapFunctionName))
        {
            throw new SmdSsProcessorException($"No map function named '{mapFunctionName}' is registered; register it on every node with AddMapFunction<T>().");
        }

        var request = new MapSliceRequest(mapFunctionName, argument.ToArray(), 0, 0);
        var partials = new SortedDictionary<uint, byte[]>();
        List<(SliceRange Range, int Attempt)> pending = [.. SliceMap!.Slices.Select(s => (s.Range, 0))];
        long deadlineMs = MonoMs() + (long)_options.RequestTimeout.TotalMilliseconds;
        string lastProblem = "";
        int idleRounds = 0;
        while (pending.Count > 0)
        {
            if (MonoMs() > deadlineMs)
            {
                throw new SmdSsUnavailableException($"Map '{mapFunctionName}': {pending.Count} slice(s) found no up-to-date replica within SmdSs:RequestTimeout ({_options.RequestTimeout}): {lastProblem}");
            }

            // On the thread pool: a slice mapped here would otherwise run before the other requests leave.
            MapOutcome[] outcomes = await Task.WhenAll(pending.Select(p => Task.Run(() => MapSliceAsync(request, p.Range, p.Attempt, cancellationToken), cancellationToken))).ConfigureAwait(false);
            List<(SliceRange, int)> next = [];
            bool progress = false;
            for (int i = 0; i < outcomes.Length; i++)
            {
                MapOutcome outcome = outcomes[i];
                if (outcome.Partial is { } partial)
                {
                    partials[pending[i].Range.Start] = partial;
                    progress = true;
                }
                else if (outcome.Parts is { } parts)
                {
                    next.AddRange(parts.Select(r => (r, 0)));
                    progress = true;
                }
                else
                {
                    lastProblem = outcome.Problem ?? lastProblem;
                    next.Add((pending[i].Range, pending[i].Attempt + 1));
                }
            }

            pending = next;
            if (progress)
            {
                deadlineMs = MonoMs() + (long)_options.RequestTimeout.TotalMilliseconds;
                idleRounds = 0;
            }
            else if (pending.Count > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(25 << Math.Min(idleRounds++, 4), 400)), _time, cancellationToken).ConfigureAwait(false);
            }
        }

        return [.. partials.Values];
    }

    /// <summary>A partial, or the ranges the slice was split into, or why to ask again.</summary>
    private readonly record struct MapOutcome(byte[]? Partial, IReadOnlyList<SliceRange>? Parts, string? Problem);

    private async Task<MapOutcome> MapSliceAsync(MapSliceRequest request, SliceRange range, int attempt, CancellationToken cancellationToken)
    {
        SliceMap map = SliceMap!;
        PieSlice slice = map.Find(range.Start);
        if (slice.Range != range)
        {
            // Slices only split: this range is now tiled by smaller ones (or the map has not settled yet).
            List<SliceRange> parts = [.. map.Slices.Select(s => s.Range).Where(r => r.Start >= range.Start && r.End <= range.End)];
            bool tiles = parts.Count > 0 && parts[0].Start == range.Start && parts[^1].End == range.End
                && parts.Zip(parts.Skip(1)).All(p => p.First.End + 1 == p.Second.Start);
            return tiles ? new MapOutcome(null, parts, null) : new MapOutcome(null, null, $"slice {range} is not in this node's map yet");
        }

        List<NodeId> candidates = [.. slice.Replicas.Where(n => n == slice.Primary || slice.IsInSync(n)).Where(IsReachable)];
        if (candidates.Count == 0)
        {
            return new MapOutcome(null, null, $"no replica of slice {range} is reachable");
        }

        NodeId target = candidates[attempt % candidates.Count];
        MapSliceRequest forSlice = request with { Start = range.Start, End = range.End };
        (MessageType type, byte[] payload) reply;
        if (target == SelfRecord!.Id)
        {
            reply = OnMapSlice(forSlice);
        }
        else
        {
            try
            {
                Frame frame = await _transport!.SendAsync(Nodes.Find(target)!.Endpoint, MessageType.MapSlice, ComputeMessages.Encode(forSlice), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                reply = (frame.Type, frame.Payload);
            }
            catch (PeerUnavailableException ex)
            {
                return new MapOutcome(null, null, $"{target}: {ex.Message}");
            }
        }

        if (reply.type == MessageType.Ok)
        {
            return new MapOutcome(reply.payload, null, null);
        }

        ErrorReply error = ErrorReply.Read(reply.payload);
        ThrowIfFinal(error);
        if (error.Code == ErrorCode.StaleEpoch && Nodes.Find(target) is { } node)
        {
            await TrySyncAsync(node.Endpoint, cancellationToken).ConfigureAwait(false);
        }

        return new MapOutcome(null, null, $"{target}: {error.Message}");
    }

    /// <summary>Maps one slice here, if this node may answer reads of it and knows it by the same range.</summary>
    private (MessageType, byte[]) OnMapSlice(MapSliceRequest request)
    {
        if (!_mapFunctions.TryGetValue(request.Function, out ISmdSsMapFunction? function))
        {
            return Error(ErrorCode.ProcessorFailed, $"No map function named '{request.Function}' is registered on node {SelfRecord!.Id}; register it on every node with AddMapFunction<T>().");
        }

        var range = new SliceRange(request.Start, request.End);
        PieSlice slice = SliceMap!.Find(request.Start);
        if (slice.Range != range)
        {
            return Error(ErrorCode.StaleEpoch, $"{SelfRecord!.Id} knows slice {slice.Range} (epoch {slice.Epoch}), not {range}");
        }

        if (!CanReadLocally(slice))
        {
            return Error(ErrorCode.Unavailable, $"{SelfRecord!.Id} may not answer reads of slice {range} now");
        }

        SliceStore store = RunningStore().SliceFor(range.Start);
        long now = NowMs();
        // The store may still be the unsplit parent of this slice: only this range's keys count.
        // SMD-SS's own keys (the Data Protection key ring) are never shown to app code.
        bool filter = store.Range != range;
        IEnumerable<SmdSsEntry> entries = store.Entries
            .Where(e => !e.IsExpiredAt(now) && !KeyRules.IsReserved(e.Key) && (!filter || range.Contains(Hashing.KeyHash.Of(e.Key))))
            .Select(e => new SmdSsEntry(e.Key, e.Version, () => e.ValueInMemory ?? store.ReadValue(e) ?? []));
        byte[] partial;
        try
        {
            partial = function.Map(entries, request.Argument) ?? throw new InvalidOperationException("it returned null");
        }
#pragma warning disable CA1031 // Any failure of user code is reported to the caller.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return Error(ErrorCode.ProcessorFailed, $"Map function '{request.Function}' failed on slice {range}: {ex.GetType().Name}: {ex.Message}");
        }

        // A built-in scan page may pass MaxValueBytes by its page size (1 MiB): it still fits a frame.
        int limit = request.Function.StartsWith(Compute.BuiltInMapFunctions.ReservedPrefix, StringComparison.Ordinal)
            ? _options.MaxValueBytes + SmdSsLimits.MaxKeyBytes + SmdSsComputeExtensions.ScanPageBytes + 1024
            : _options.MaxValueBytes;
        if (partial.Length > limit)
        {
            return Error(ErrorCode.ProcessorFailed, $"Map function '{request.Function}' returned {partial.Length} bytes for slice {range}, over its limit of {limit} (SmdSs:MaxValueBytes is {_options.MaxValueBytes}).");
        }

        _metrics?.Operation("map_slice");
        return (MessageType.Ok, partial);
    }
}
