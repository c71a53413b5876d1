using System.Diagnostics;
using System.Diagnostics.Metrics;
using SmdSs.Storage;

namespace SmdSs.Diagnostics;

/// <summary>
/// The node's instruments on meter <c>SmdSs</c>. Counters the request path bumps are plain
/// counters; sizes and the store's own tallies are observed when a listener collects.
/// Every measurement carries the <c>smdss.node</c> tag, so several nodes in one process stay apart.
/// </summary>
internal sealed class SmdSsMetrics : IDisposable
{
    public const string MeterName = "SmdSs";
    private readonly Meter _meter;
    private readonly Counter<long> _operations;
    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _reads;
    private readonly TagList _local;
    private readonly TagList _forwarded;
    private readonly TagList _degraded;
    private readonly KeyValuePair<string, object?> _nodeTag;
    private readonly TagList _get;
    private readonly TagList _set;
    private readonly TagList _remove;
    private readonly TagList _refresh;

    private readonly Counter<long> _sliceChanges;
    private readonly Counter<long> _catchUps;
    private readonly Counter<long> _bytesStreamed;
    private readonly Counter<long> _hintsStored;
    private readonly Counter<long> _hintsReplayed;
    private readonly Counter<long> _bucketsRepaired;
    private readonly Counter<long> _keysRepaired;
    private readonly Counter<long> _splits;

    public SmdSsMetrics(IMeterFactory? meterFactory, string nodeId, Func<FlatFileStore?> store)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _nodeTag = new KeyValuePair<string, object?>("smdss.node", nodeId);
        _get = Tags("get");
        _set = Tags("set");
        _remove = Tags("remove");
        _refresh = Tags("refresh");
        _local = new TagList { _nodeTag, { "smdss.read.served", "local" } };
        _forwarded = new TagList { _nodeTag, { "smdss.read.served", "forwarded" } };
        _degraded = new TagList { _nodeTag, { "smdss.read.served", "degraded" } };
        _sliceChanges = _meter.CreateCounter<long>("smdss.slice.changes", "{change}", "Slice records this node committed as primary, by reason (placement, caught up, replica failed, took over, ...).");
        _catchUps = _meter.CreateCounter<long>("smdss.catchups", "{catchup}", "Replicas this node brought in sync, by smdss.catchup.mode: full (a new copy: join, re-replication) or delta (a returning replica sent only what it missed).");
        _hintsStored = _meter.CreateCounter<long>("smdss.hints.stored", "{record}", "Writes a replica missed while this node was primary (kept in this node's files until the replica returns).");
        _hintsReplayed = _meter.CreateCounter<long>("smdss.hints.replayed", "{record}", "Records sent to returning replicas by delta catch-ups.");
        _bucketsRepaired = _meter.CreateCounter<long>("smdss.antientropy.buckets", "{bucket}", "Anti-entropy buckets whose digests differed between this primary and a replica.");
        _keysRepaired = _meter.CreateCounter<long>("smdss.antientropy.keys", "{key}", "Keys anti-entropy copied, by smdss.direction: push (to the replica) or pull (from it).");
        _splits = _meter.CreateCounter<long>("smdss.splits", "{split}", "Slices this node split as their primary because they passed the split threshold.");
        _bytesStreamed = _meter.CreateCounter<long>("smdss.bytes.streamed", "By", "Bytes of slice data streamed to other nodes (catch-ups and handoffs).");
        _reads = _meter.CreateCounter<long>("smdss.reads", "{read}", "Reads by where they were answered: local (this node's copy, no network), forwarded (to the primary), or degraded (a local copy while this node lost contact with most of the cluster).");
        _operations = _meter.CreateCounter<long>("smdss.operations", "{operation}", "Key-value operations served, by operation.");
        _hits = _meter.CreateCounter<long>("smdss.cache.hits", "{read}", "Reads that found a live entry.");
        _misses = _meter.CreateCounter<long>("smdss.cache.misses", "{read}", "Reads that found no live entry.");
        _meter.CreateObservableCounter("smdss.evictions", () => Observe(store()?.Evictions), "{value}", "Values evicted from memory by the MaxMemoryBytes limit.");
        _meter.CreateObservableCounter("smdss.compactions", () => Observe(store()?.Compactions), "{compaction}", "Slice files rewritten by compaction.");
        _meter.CreateObservableCounter("smdss.expired", () => Observe(store()?.ExpiredRemoved), "{entry}", "Expired entries this node, as their primary, deleted on every replica.");
        _meter.CreateObservableGauge("smdss.memory.bytes", () => Observe(store()?.Memory.UsedBytes), "By", "Bytes of keys, values and index held in memory.");
        _meter.CreateObservableGauge("smdss.disk.bytes", () => Observe(store()?.DiskBytes), "By", "Bytes of slice files on disk.");
        _meter.CreateObservableGauge("smdss.entries", () => Observe(store()?.Count), "{entry}", "Live entries held by this node.");
    }

    public void Get(bool hit)
    {
        _operations.Add(1, _get);
        (hit ? _hits : _misses).Add(1, _nodeTag);
    }

    public void Read(bool local) => _reads.Add(1, local ? _local : _forwarded);

    /// <summary>A read answered from a local copy without a quorum (see SmdSsNode.MustReadDegraded).</summary>
    public void ReadDegraded() => _reads.Add(1, _degraded);

    public void SliceChanged(string reason) => _sliceChanges.Add(1, _nodeTag, new KeyValuePair<string, object?>("smdss.reason", reason));

    public void CaughtUp(long bytes, bool delta, int records)
    {
        _catchUps.Add(1, _nodeTag, new KeyValuePair<string, object?>("smdss.catchup.mode", delta ? "delta" : "full"));
        if (delta)
        {
            _hintsReplayed.Add(records, _nodeTag);
        }

        Streamed(bytes);
    }

    public void HintsStored(int records) => _hintsStored.Add(records, _nodeTag);

    public void Repaired(int buckets, int pushed, int pulled)
    {
        _bucketsRepaired.Add(buckets, _nodeTag);
        _keysRepaired.Add(pushed, _nodeTag, new KeyValuePair<string, object?>("smdss.direction", "push"));
        _keysRepaired.Add(pulled, _nodeTag, new KeyValuePair<string, object?>("smdss.direction", "pull"));
    }

    public void Split() => _splits.Add(1, _nodeTag);

    public void Streamed(long bytes) => _bytesStreamed.Add(bytes, _nodeTag);

    public void Set() => _operations.Add(1, _set);

    public void Remove() => _operations.Add(1, _remove);

    /// <summary>An atomic operation (increment, compare-and-swap, processor, ...) or a slice mapped, as this node served it.</summary>
    public void Operation(string operation) => _operations.Add(1, Tags(operation));

    public void Refresh() => _operations.Add(1, _refresh);

    public void Dispose() => _meter.Dispose();

    private TagList Tags(string operation) => new() { _nodeTag, { "smdss.operation", operation } };

    private IEnumerable<Measurement<long>> Observe(long? value) =>
        value is { } v ? [new Measurement<long>(v, _nodeTag)] : [];
}
