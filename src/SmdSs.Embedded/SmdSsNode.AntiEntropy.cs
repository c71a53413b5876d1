using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Replication;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Anti-entropy: every AntiEntropyInterval each primary compares each of its slices with every
/// in-sync replica — 256 bucket digests one way, then the key versions of the differing buckets
/// only, then the records where one side is newer (last writer wins by version, tombstones
/// included). It repairs what replication cannot know about: a replica's lost or damaged files,
/// a write that reached only some replicas. A delta catch-up ends with one such pass too.
/// </summary>
public sealed partial class SmdSsNode
{
    private const int BucketsPerQuery = 16;

    private async Task AntiEntropyLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_options.AntiEntropyInterval, _time);
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            if (!_confirmed.Task.IsCompleted || Withdrawn)
            {
                continue;
            }

            NodeId self = SelfRecord!.Id;
            foreach (PieSlice slice in SliceMap!.Slices.Where(s => s.Primary == self))
            {
                foreach (NodeId replica in slice.InSync.Where(n => n != self && IsReachable(n)))
                {
                    try
                    {
                        await RepairAsync(slice, replica, stopping).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is PeerUnavailableException or SmdSsUnavailableException or ProtocolException)
                    {
                        // The next round tries again; failure detection deals with a dead replica.
                    }
                    catch (PeerRefusedException ex)
                    {
                        // Records out of bounds from this replica: none applied; the other slices and replicas go on.
                        LogRefusedAnswer(replica.ToString(), ex.Message);
                    }
                }
            }
        }
    }

    /// <summary>One anti-entropy pass over a slice with one replica; returns the buckets that differed.</summary>
    private async Task<int> RepairAsync(PieSlice slice, NodeId replica, CancellationToken cancellationToken)
    {
        if (Nodes.Find(replica) is not { } node)
        {
            return 0;
        }

        uint start = slice.Range.Start;
        SliceStore store = RunningStore().SliceFor(start);
        Frame digestReply = await AskAsync(node.Endpoint, MessageType.DigestRequest, Messages.Encode(new SliceRecordsMessage(start, slice.Epoch, [])), cancellationToken).ConfigureAwait(false);
        List<int> differing = KeyBuckets.Differing(store.BucketDigests(NowMs()), Messages.DecodeDigests(digestReply.Payload));
        if (differing.Count == 0)
        {
            return 0;
        }

        // A few buckets per question keep each answer far below the frame limit, however many keys the slice holds.
        var theirs = new List<StorageRecord>();
        foreach (int[] batch in differing.Chunk(BucketsPerQuery))
        {
            Frame versionsReply = await AskAsync(node.Endpoint, MessageType.BucketVersions, Messages.Encode(new SliceQueryMessage(start, slice.Epoch, batch, [])), cancellationToken).ConfigureAwait(false);
            theirs.AddRange(Messages.DecodeSliceRecords(versionsReply.Payload).Records);
        }

        (List<string> push, List<string> pull) = BucketRepair.Plan(store.VersionsIn(differing.ToHashSet(), NowMs()), theirs);

        // One key per pull (a value may be as large as a frame allows); pulls are rare: a write
        // that reached the replica but not this primary.
        foreach (string key in pull)
        {
            Frame pulled = await AskAsync(node.Endpoint, MessageType.FetchRecords, Messages.Encode(new SliceQueryMessage(start, slice.Epoch, [], [key])), cancellationToken).ConfigureAwait(false);
            SliceRecordsMessage fetched = Messages.DecodeSliceRecords(pulled.Payload);
            RefuseForgedVersions(fetched.Records);
            // With the answers of the atomic operations behind the value: whoever holds the value
            // must answer their retries, not apply them again.
            RememberAnswers(fetched, replaced: null);
            foreach (StorageRecord record in fetched.Records)
            {
                // Written here like any write, keeping its version, so that every replica gets it;
                // under the key's own record (the slice may have split since the pass began).
                _clock.Observe(record.Version);
                if (await WriteAsPrimaryAsync(SliceMap!.Find(Hashing.KeyHash.Of(record.Key)), record, cancellationToken, fetched.Answers).ConfigureAwait(false))
                {
                    ForgetOwnInDoubt(record.Key, fetched.Answers);
                    RememberAnswers(fetched, replaced: new HashSet<uint> { Hashing.KeyHash.Of(record.Key) });
                }
            }
        }

        if (push.Count > 0)
        {
            // With the answers behind the pushed values, written into the replica's records.
            ILookup<uint, OperationAnswer> answersByKey = _recentOperations.OfKeys(push).ToLookup(a => a.KeyHash);
            await StreamRecordsAsync(node.Endpoint, start, slice.Epoch, MessageType.Replicate, store.RecordsOf(push, NowMs()), cancellationToken, answersByKey).ConfigureAwait(false);
        }

        Log.BucketsRepaired(_logger, slice.Range.ToString(), replica.ToString(), differing.Count, push.Count, pull.Count);
        _metrics?.Repaired(differing.Count, push.Count, pull.Count);
        _repairs.Repaired(differing.Count, push.Count + pull.Count);
        return differing.Count;
    }

    private async Task<Frame> AskAsync(string endpoint, MessageType type, byte[] payload, CancellationToken cancellationToken)
    {
        Frame reply = await _transport!.SendAsync(endpoint, type, payload, StreamTimeout, cancellationToken).ConfigureAwait(false);
        return reply.Type == MessageType.Ok ? reply : throw new SmdSsUnavailableException($"{type} refused by {endpoint}: {ErrorReply.Read(reply.Payload).Message}");
    }

    /// <summary>Replica side: the bucket digests of this node's copy of a slice.</summary>
    private (MessageType, byte[]) OnDigestRequest(SliceRecordsMessage message)
    {
        if (SliceMap!.Find(message.SliceStart).Range.Start != message.SliceStart)
        {
            return Error(ErrorCode.BadRequest, $"no slice starts at {message.SliceStart:x8}");
        }

        return (MessageType.Ok, Messages.EncodeDigests(RunningStore().SliceFor(message.SliceStart).BucketDigests(NowMs())));
    }

    /// <summary>Replica side: the versions in some buckets, or the records of some keys.</summary>
    private (MessageType, byte[]) OnSliceQuery(MessageType type, SliceQueryMessage query)
    {
        if (SliceMap!.Find(query.SliceStart).Range.Start != query.SliceStart)
        {
            return Error(ErrorCode.BadRequest, $"no slice starts at {query.SliceStart:x8}");
        }

        SliceStore store = RunningStore().SliceFor(query.SliceStart);
        // A key named many times is sent once, and the values of one reply stay within a value's
        // limit: one frame naming a large key a million times costs one copy of it.
        List<StorageRecord> records = type == MessageType.BucketVersions
            ? store.VersionsIn(query.Buckets.ToHashSet(), NowMs())
            : store.RecordsOf(query.Keys, NowMs(), _options.MaxValueBytes);
        List<OperationAnswer>? answers = type == MessageType.FetchRecords ? _recentOperations.OfKeys(records.Select(r => r.Key)) : null;
        return (MessageType.Ok, Messages.Encode(new SliceRecordsMessage(query.SliceStart, query.Epoch, records, answers)));
    }
}
