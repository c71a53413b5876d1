using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Forwarding a request to the key's primary, and answering requests forwarded to this node.
/// The sender retries until RequestTimeout while the map settles: a primary that is gone is
/// replaced by failover, and a node that is no longer primary says so, upon which the sender
/// syncs its maps with it and tries again.
/// </summary>
public sealed partial class SmdSsNode
{
    private ValueTask<Frame> ForwardAsync(uint hash, MessageType type, ForwardedOperation operation, CancellationToken cancellationToken, long? deadlineMs = null) =>
        ForwardAsync(hash, type, Messages.Encode(operation), token => OnForwardedAsync(type, operation, token), cancellationToken, deadlineMs);

    /// <summary>
    /// Sends <paramref name="payload"/> to the key's primary, or answers it with <paramref name="answerHere"/> when this node is the primary;
    /// retried until <paramref name="deadlineMs"/> (MonoMs; by default RequestTimeout from now).
    /// </summary>
    private async ValueTask<Frame> ForwardAsync(
        uint hash, MessageType type, byte[] payload, Func<CancellationToken, ValueTask<(MessageType, byte[])>> answerHere, CancellationToken cancellationToken, long? deadlineMs = null)
    {
        long deadline = deadlineMs ?? MonoMs() + (long)_options.RequestTimeout.TotalMilliseconds;
        TimeSpan Remaining() => TimeSpan.FromMilliseconds(Math.Max(1, deadline - MonoMs()));
        string lastProblem = "no primary known";
        int attempt = 0;
        while (MonoMs() < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!_confirmed.Task.IsCompleted)
            {
                await _confirmed.Task.WaitAsync(Remaining(), _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            PieSlice slice = SliceMap!.Find(hash);
            if (slice.Primary == SelfRecord!.Id && !Withdrawn)
            {
                try
                {
                    (MessageType localType, byte[] localPayload) = await answerHere(cancellationToken).ConfigureAwait(false);
                    if (localType != MessageType.Error)
                    {
                        return new Frame(localType, 0, localPayload);
                    }

                    ErrorReply error = ErrorReply.Read(localPayload);
                    lastProblem = error.Message;
                    ThrowIfFinal(error);
                }
                catch (SmdSsUnavailableException ex)
                {
                    lastProblem = ex.Message;
                }
            }
            else if (slice.Primary == SelfRecord!.Id)
            {
                // Saying goodbye or stepping down: the slice goes to another node in a moment.
                lastProblem = $"{SelfRecord!.Id} is handing slice {slice.Range} over";
            }
            else if (slice.Primary is { } primary && Nodes.Find(primary) is { IsReachable: true } node)
            {
                try
                {
                    Frame reply = await _transport!.SendAsync(node.Endpoint, type, payload, Remaining(), cancellationToken).ConfigureAwait(false);
                    if (reply.Type == MessageType.Ok)
                    {
                        return reply;
                    }

                    ErrorReply error = ErrorReply.Read(reply.Payload);
                    lastProblem = error.Message;
                    ThrowIfFinal(error);
                    if (error.Code is ErrorCode.NotPrimary or ErrorCode.StaleEpoch or ErrorCode.Unavailable)
                    {
                        await TrySyncAsync(node.Endpoint, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (PeerUnavailableException ex)
                {
                    lastProblem = ex.Message;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(25 << Math.Min(attempt++, 4), 400)), _time, cancellationToken).ConfigureAwait(false);
        }

        throw new SmdSsUnavailableException($"No primary for the key's slice answered within SmdSs:RequestTimeout ({_options.RequestTimeout}): {lastProblem}");
    }

    // Bad input, operations that do not fit the value, failed processors and unknown failures are final; "not primary", "stale epoch" and "unavailable"
    // (the primary is stopping, or could not reach its quorum yet) are retried until RequestTimeout.
    private static void ThrowIfFinal(ErrorReply error)
    {
        switch (error.Code)
        {
            case ErrorCode.BadRequest:
                throw new ArgumentException(error.Message);
            case ErrorCode.Internal:
                throw new SmdSsUnavailableException(error.Message);
            case ErrorCode.Conflict:
                throw new InvalidOperationException(error.Message);
            case ErrorCode.ProcessorFailed:
                throw new SmdSsProcessorException(error.Message);
        }
    }

    private async Task TrySyncAsync(string endpoint, CancellationToken cancellationToken)
    {
        try
        {
            await SyncWithAsync(endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch (PeerUnavailableException)
        {
            // The next attempt finds out.
        }
    }

    /// <summary>Answers a forwarded operation as the key's primary, or says this node is not it.</summary>
    private async ValueTask<(MessageType, byte[])> OnForwardedAsync(MessageType type, ForwardedOperation operation, CancellationToken cancellationToken)
    {
        uint hash = KeyRules.ValidateAndHash(operation.Key);
        PieSlice slice = SliceMap!.Find(hash);
        SliceStore local = RunningStore().SliceFor(hash);
        if (slice.Primary != SelfRecord!.Id || Withdrawn || !_confirmed.Task.IsCompleted)
        {
            return Error(ErrorCode.NotPrimary, $"{SelfRecord.Id} is not the primary of slice {slice.Range} (epoch {slice.Epoch})");
        }

        if (type is MessageType.Get or MessageType.Refresh or MessageType.Probe && !HasReadQuorum())
        {
            return Error(ErrorCode.Unavailable, $"{SelfRecord.Id} lost contact with most of the cluster; another node takes slice {slice.Range} over");
        }

        switch (type)
        {
            case MessageType.Get:
            case MessageType.Refresh:
                byte[]? value = ReadAndSlide(local, operation.Key, countGet: type == MessageType.Get);
                return (MessageType.Ok, new MessageWriter().Bool(value is not null).Bytes(type == MessageType.Get ? value ?? [] : []).ToArray());
            case MessageType.Probe:
                bool found = FindLive(local, operation.Key, out StoredEntry? entry);
                return (MessageType.Ok, new MessageWriter().Bool(found).I64(entry?.DeadlineMs ?? 0).ToArray());
            case MessageType.Set:
                KeyRules.ValidateValueLength(operation.Value.Length, _options.MaxValueBytes);
                await WriteAsPrimaryAsync(slice, new StorageRecord(RecordKind.Put, operation.Key, 0, operation.Expiry, operation.Value), cancellationToken).ConfigureAwait(false);
                return (MessageType.Ok, new MessageWriter().Bool(true).ToArray());
            case MessageType.Remove:
                bool removed = await WriteAsPrimaryAsync(slice, new StorageRecord(RecordKind.Delete, operation.Key, 0, EntryExpiry.None, []), cancellationToken).ConfigureAwait(false);
                return (MessageType.Ok, new MessageWriter().Bool(removed).ToArray());
            default:
                return Error(ErrorCode.BadRequest, $"not a key-value operation: {type}");
        }
    }
}
