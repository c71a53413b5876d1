using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// This node's storage: one <see cref="SliceStore"/> per slice it holds, a shared memory budget
/// with least-recently-used eviction of values, and the background jobs (touch flush, fsync,
/// expiry sweep, compaction). The set of slices is an immutable snapshot swapped atomically.
/// </summary>
internal sealed class FlatFileStore : IDisposable
{
    private readonly StoreSettings _settings;
    private readonly Lock _evictionLock = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<SliceStore> _retired = new();
    private Slices _slices = new([], []);
    private long _evictions;
    private long _compactions;
    private long _expiredRemoved;

    public FlatFileStore(StoreSettings settings)
    {
        _settings = settings;
        Memory = new MemoryBudget(settings.MaxMemoryBytes);
    }

    public MemoryBudget Memory { get; }

    public long Evictions => Interlocked.Read(ref _evictions);

    public long Compactions => Interlocked.Read(ref _compactions);

    public long ExpiredRemoved => Interlocked.Read(ref _expiredRemoved);

    /// <summary>Counts entries this node, as their primary, deleted because they expired.</summary>
    public void CountExpired(int entries) => Interlocked.Add(ref _expiredRemoved, entries);

    public long DiskBytes => _slices.Stores.Sum(s => s.FileBytes);

    public long Count => _slices.Stores.Sum(s => (long)s.Count);

    public IReadOnlyList<SliceStore> SliceStores => _slices.Stores;

    /// <summary>The slice ranges of the files on disk when they cover the space exactly; else null.</summary>
    public static IReadOnlyList<SliceRange>? DiscoverRanges(ISliceDisk disk, string slicesDirectory)
    {
        if (!disk.DirectoryExists(slicesDirectory))
        {
            return null;
        }

        var ranges = disk.EnumerateFiles(slicesDirectory, "slice-*" + SliceFile.Extension)
            .Select(path => SliceFile.TryParseName(Path.GetFileName(path), out SliceRange r) ? r : (SliceRange?)null)
            .OfType<SliceRange>()
            .OrderBy(r => r.Start)
            .ToList();
        var asSlices = ranges.Select(r => new PieSlice(r, 0, [])).ToList();
        return ranges.Count > 0 && SliceMap.FindCoverageError(asSlices) is null ? ranges : null;
    }

    /// <summary>
    /// Opens one store per range and replays its file. Slice files of other ranges (an older
    /// layout) are replayed into the slices that now own their keys and then deleted. The report
    /// holds the operation answers of records versioned at or after <paramref name="answersSinceMs"/>.
    /// </summary>
    public StoreLoadReport Open(IReadOnlyList<SliceRange> ranges, long nowMs, long answersSinceMs = 0)
    {
        _settings.Disk.CreateDirectory(_settings.SlicesDirectory);
        SliceFile.DeleteLeftovers(_settings.Disk, _settings.SlicesDirectory);
        var wanted = ranges.Select(SliceFile.NameOf).ToHashSet(StringComparer.Ordinal);
        List<string> orphans = [.. _settings.Disk.EnumerateFiles(_settings.SlicesDirectory, "*" + SliceFile.Extension)
            .Where(path => !wanted.Contains(Path.GetFileName(path)))];

        var stores = new List<SliceStore>(ranges.Count);
        try
        {
            foreach (SliceRange range in ranges.OrderBy(r => r.Start))
            {
                stores.Add(StoreOf(range));
            }
        }
        catch
        {
            // A file that cannot be opened (a disk error): the ones opened before it are closed.
            stores.ForEach(s => s.Dispose());
            throw;
        }

        _slices = new Slices([.. stores], [.. stores.Select(s => s.Range.Start)]);
        var reports = stores.Select(s => s.Load(nowMs, answersSinceMs)).ToList();
        List<(long Version, OperationAnswer Answer)> answers = [.. reports.SelectMany(r => r.AnswersByVersion)];
        List<(string Key, long Version, IReadOnlyList<OperationAnswer> Answers)> newest = [.. reports.SelectMany(r => r.NewestAnswers)];
        foreach (string orphan in orphans)
        {
            Adopt(orphan, answersSinceMs, answers, newest);
        }

        EvictIfOverLimit();
        // An adopted record may be a key's newest, or be older than the one its slice holds.
        List<(string Key, IReadOnlyList<OperationAnswer> Answers)> newestHeld = [.. newest
            .GroupBy(n => n.Key, StringComparer.Ordinal)
            .Select(g => g.MaxBy(n => n.Version))
            .Where(n => SliceFor(Hashing.KeyHash.Of(n.Key)).NewestVersionOf(n.Key) == n.Version)
            .Select(n => (n.Key, n.Answers))];
        return new StoreLoadReport(reports, orphans, [.. answers.OrderBy(a => a.Version).Select(a => a.Answer)], newestHeld);
    }

    public SliceStore SliceFor(uint hash)
    {
        Slices slices = _slices;
        return slices.Stores[RangeSearch.IndexOf(slices.Starts, hash)];
    }

    /// <summary>Applies a record to the store that holds its key now (routed again if that store is split meanwhile).</summary>
    public bool Apply(StorageRecord record) => ApplyRouted(record, fromPrimary: false);

    /// <summary>Applies a record the slice's primary sent (see <see cref="SliceStore.ApplyFromPrimary"/>).</summary>
    public bool ApplyFromPrimary(StorageRecord record) => ApplyRouted(record, fromPrimary: true);

    private bool ApplyRouted(StorageRecord record, bool fromPrimary)
    {
        uint hash = Hashing.KeyHash.Of(record.Key);
        while (true)
        {
            try
            {
                SliceStore store = SliceFor(hash);
                return fromPrimary ? store.ApplyFromPrimary(record) : store.Apply(record);
            }
            catch (SliceRetiredException)
            {
                // The split published the halves before releasing the old store: the next lookup finds them.
            }
        }
    }

    /// <summary>
    /// Follows the slice map after slices split: each store whose range the map cut into pieces
    /// is split into stores of those pieces. Ranges that are not a refinement of the current
    /// stores (a merge) are left alone. Returns how many stores were split.
    /// </summary>
    public int Reshape(IReadOnlyList<SliceRange> ranges, long nowMs)
    {
        int split = 0;
        foreach (SliceStore old in _slices.Stores.Where(s => !ranges.Contains(s.Range)))
        {
            List<SliceRange> pieces = [.. ranges.Where(r => r.Start >= old.Range.Start && r.End <= old.Range.End)];
            if (pieces.Count < 2 || pieces.Sum(p => (decimal)p.Width) != old.Range.Width)
            {
                continue;
            }

            SliceStore[] halves = [.. pieces.Select(NewStore)];
            old.SplitInto(halves, nowMs, () =>
            {
                SliceStore[] stores = [.. _slices.Stores.Where(s => s != old).Concat(halves).OrderBy(s => s.Range.Start)];
                _slices = new Slices(stores, [.. stores.Select(s => s.Range.Start)]);
            });
            _retired.Enqueue(old);
            split++;
        }

        return split;
    }

    private SliceStore NewStore(SliceRange range)
    {
        // A file of this range left by a split that crashed half-way is replaced: the old store still holds everything.
        _settings.Disk.Delete(Path.Combine(_settings.SlicesDirectory, SliceFile.NameOf(range)));
        return StoreOf(range);
    }

    private SliceStore StoreOf(SliceRange range) =>
        new(range, _settings.Disk, _settings.SlicesDirectory, _settings.FsyncPolicy, Memory, _settings.MaxBodyBytes, _settings.TombstoneRetentionMs);

    private int _evictionScheduled;

    /// <summary>
    /// Keeps memory under <see cref="StoreSettings.MaxMemoryBytes"/>: drops the least recently
    /// used values (down to 90% of the limit, so passes are rare). Keys and the index are the
    /// node's bookkeeping and are never evicted; an evicted value stays in its slice file and a
    /// read brings it back.
    /// </summary>
    /// <summary>
    /// When memory is over the budget, has <see cref="EvictIfOverLimit"/> run on the thread pool
    /// (one pass at a time): a request that passes the budget never pays for the pass.
    /// </summary>
    public void RequestEviction()
    {
        if (!Memory.IsOver || Interlocked.CompareExchange(ref _evictionScheduled, 1, 0) != 0)
        {
            return;
        }

        _ = Task.Run(() =>
        {
            try
            {
                EvictIfOverLimit();
            }
            catch (Exception ex) when (ex is ObjectDisposedException or IOException or SliceRetiredException)
            {
                // The node is stopping, or a slice was split under the pass: the next request asks again.
            }
            finally
            {
                Volatile.Write(ref _evictionScheduled, 0);
            }
        });
    }

    public void EvictIfOverLimit()
    {
        if (!Memory.IsOver || !_evictionLock.TryEnter())
        {
            return;
        }

        try
        {
            long target = Memory.LimitBytes / 10 * 9;
            var candidates = _slices.Stores
                .SelectMany(store => store.Entries.Where(e => e.ValueInMemory is not null).Select(e => (store, e)))
                .ToArray();
            Array.Sort(candidates, (a, b) => a.e.LastAccess.CompareTo(b.e.LastAccess));
            foreach ((SliceStore store, StoredEntry entry) in candidates)
            {
                if (Memory.UsedBytes <= target)
                {
                    break;
                }

                if (store.EvictValue(entry) > 0)
                {
                    Interlocked.Increment(ref _evictions);
                }
            }
        }
        finally
        {
            _evictionLock.Exit();
        }
    }

    /// <summary>
    /// Appends the touch records of every slice and returns, per slice, the ones reads on this
    /// node made (the node sends those on at once: see <see cref="SlidingRenewal"/>).
    /// </summary>
    public List<(SliceStore Store, List<StorageRecord> Touches)> FlushTouches()
    {
        var touches = new List<(SliceStore, List<StorageRecord>)>();
        foreach (SliceStore store in _slices.Stores)
        {
            List<StorageRecord> local = store.FlushTouches();
            if (local.Count > 0)
            {
                touches.Add((store, local));
            }
        }

        return touches;
    }

    /// <summary>
    /// One round of background work after the touches: prune tombstones, compact files whose
    /// dead bytes passed the threshold, fsync when the policy says so, free split stores.
    /// Expired entries are the node's job (only a slice's primary expires them: <see cref="SlidingRenewal"/>).
    /// </summary>
    public void Maintain(long nowMs, bool sync)
    {
        // Stores split a round ago: no request that found them before the split is still reading.
        for (int n = _retired.Count; n > 0 && _retired.TryDequeue(out SliceStore? retired); n--)
        {
            if (retired.RetiredRounds++ > 0)
            {
                retired.DisposeRetired();
            }
            else
            {
                _retired.Enqueue(retired);
            }
        }

        foreach (SliceStore store in _slices.Stores)
        {
            store.PruneTombstones(nowMs);
            if (store.NeedsCompaction(_settings.CompactionDeadBytesThreshold))
            {
                store.Compact(nowMs);
                Interlocked.Increment(ref _compactions);
            }

            if (sync)
            {
                store.Sync();
            }
        }
    }

    /// <summary>Persists pending touches and fsyncs every file (host stop).</summary>
    public void Flush()
    {
        foreach (SliceStore store in _slices.Stores)
        {
            store.FlushTouches();
            store.Sync();
        }
    }

    public void Dispose()
    {
        while (_retired.TryDequeue(out SliceStore? retired))
        {
            retired.DisposeRetired();
        }

        foreach (SliceStore store in _slices.Stores)
        {
            store.Dispose();
        }

        _slices = new Slices([], []);
    }

    // Replays a file of another layout into the slices that own its keys, and collects the
    // operation answers its records hold (as SliceStore.Load does).
    private void Adopt(
        string orphanPath,
        long answersSinceMs,
        List<(long Version, OperationAnswer Answer)> answers,
        List<(string Key, long Version, IReadOnlyList<OperationAnswer> Answers)> newest)
    {
        using (Stream stream = _settings.Disk.OpenRead(orphanPath))
        {
            SliceFileReader.Replay(stream, _settings.MaxBodyBytes, (record, _, _) =>
            {
                if (record.Answers is { } held && HybridTimestamp.PhysicalMsOf(record.Version) >= answersSinceMs)
                {
                    answers.AddRange(held.Select(a => (record.Version, a)));
                    newest.Add((record.Key, record.Version, held));
                }

                SliceStore owner = SliceFor(Hashing.KeyHash.Of(record.Key));
                switch (record.Kind)
                {
                    case RecordKind.Put:
                        if (!owner.Put(record.Key, record.Version, record.Expiry, record.Value, record.Answers))
                        {
                            // A copy of the version held, made after a renewal (a split's copies carry their deadline).
                            ExtendAdopted(owner, record);
                        }

                        break;
                    case RecordKind.Delete:
                        owner.Delete(record.Key, record.Version, record.Answers);
                        break;
                    case RecordKind.Touch:
                        ExtendAdopted(owner, record);
                        break;
                }
            });
        }

        foreach (SliceStore store in _slices.Stores)
        {
            // The renewals the file held go into the stores' files before it is deleted (they
            // were sent on when they were made, as the ones a replay finds).
            store.FlushTouches();
            store.Sync();
        }

        _settings.Disk.Delete(orphanPath);
    }

    // The later sliding deadline of the version held wins; the next flush writes it.
    private static void ExtendAdopted(SliceStore owner, StorageRecord record)
    {
        if (record.Expiry.HasSliding && owner.TryGet(record.Key, out StoredEntry? entry) && entry.Version == record.Version
            && entry.ExtendDeadline(record.Expiry.DeadlineMs))
        {
            owner.MarkTouched(record.Key);
        }
    }

    private sealed record Slices(SliceStore[] Stores, uint[] Starts);
}
