using System.IO.Hashing;
using System.Text;
using SmdSs.Model;
using SmdSs.Storage;

namespace SmdSs.Tests.Simulation.Disk;

/// <summary>What one seed's run did and found.</summary>
internal sealed record StorageCrashReport(
    int Seed,
    FsyncPolicy Policy,
    int Writes,
    int ReadsChecked,
    int KillCrashes,
    int PowerLosses,
    int CrashesInsideAnOperation,
    int Splits,
    long Compactions,
    long Evictions,
    long BytesLost,
    long NameChangesLost,
    IReadOnlyList<string> Violations,
    ulong TraceHash,
    IReadOnlyList<string> Trace);

/// <summary>
/// The real <see cref="FlatFileStore"/> on a <see cref="SimulatedDisk"/>, driven by one seed:
/// writes, deletes, stale writes, reads, evictions, maintenance rounds (fsync per the policy,
/// compaction), splits of slices, graceful restarts, kill -9 and power losses, some of them in
/// the middle of an operation (a compaction's rename, a split's copy, an fsync, a replay).
/// After every restart each key must hold a state that some write of it left, no older than the
/// newest write the policy promised to keep: every acknowledged write across a kill -9; across a
/// power loss, every acknowledged write under <see cref="FsyncPolicy.Always"/>, and under
/// <see cref="FsyncPolicy.EverySecond"/> the ones before the last completed maintenance round.
/// A read must return the newest write at every moment, and replay may find damage only at a
/// file's tail.
/// </summary>
internal sealed class StorageCrashSimulation
{
    private const string SlicesDirectory = "/sim/node/slices";
    private const int KeyCount = 40;
    private const long TombstoneRetentionMs = 60_000;
    private const int MaxBody = RecordCodec.FixedBodyBytes + SmdSsLimits.MaxKeyBytes + (1 << 16);
    // Longer than a run: a sliding entry never expires here, its deadline only moves.
    private const long SlidingMs = 3_600_000;

    private readonly int _seed;
    private readonly Random _random;
    private readonly SimulatedDisk _disk;
    private readonly FsyncPolicy _policy;
    private readonly StoreSettings _settings;
    private readonly Dictionary<string, KeyModel> _keys = new(StringComparer.Ordinal);
    private readonly List<string> _trace = [];
    private readonly List<string> _violations = [];
    private readonly XxHash64 _traceHash = new();
    private FlatFileStore? _store;
    private IReadOnlyList<SliceRange> _ranges;
    private IReadOnlyList<SliceRange> _syncedRanges;
    private long _nowMs = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private long _lastVersion;
    private int _writes;
    private int _readsChecked;
    private int _killCrashes;
    private int _powerLosses;
    private int _crashesInside;
    private int _splits;
    private long _compactions;
    private long _evictions;

    /// <param name="seed">Decides everything: the policy, the limits, every step and every loss.</param>
    /// <param name="keepTrace">Keep every step's line (a replay); the hash of the trace is kept always.</param>
    /// <param name="lyingDisk">The disk's fsync does nothing (the checker's own test).</param>
    /// <param name="policy">This policy instead of the seed's.</param>
    public StorageCrashSimulation(int seed, bool keepTrace = false, bool lyingDisk = false, FsyncPolicy? policy = null)
    {
        _seed = seed;
        _random = new Random(seed);
        _disk = new SimulatedDisk(new Random(seed ^ 0x5EED)) { LiesAboutFsync = lyingDisk };
        FsyncPolicy drawn = _random.Next(3) switch
        {
            0 => FsyncPolicy.Always,
            1 => FsyncPolicy.EverySecond,
            _ => FsyncPolicy.Never,
        };
        _policy = policy ?? drawn;
        long memory = _random.Next(3) == 0 ? long.MaxValue : _random.Next(8, 64) << 10;
        _settings = new StoreSettings(SlicesDirectory, _policy, memory, MaxBody, _random.Next(2, 16) << 10, TombstoneRetentionMs) { Disk = _disk };
        _ranges = _random.Next(2) == 0 ? [SliceRange.Whole] : Quarters();
        _syncedRanges = _ranges;
        KeepTrace = keepTrace;
        for (int i = 0; i < KeyCount; i++)
        {
            _keys[$"key-{i}"] = new KeyModel();
        }
    }

    private bool KeepTrace { get; }

    public StorageCrashReport Run(int steps)
    {
        Note($"seed {_seed}: policy {_policy}, memory {_settings.MaxMemoryBytes}, compaction at {_settings.CompactionDeadBytesThreshold} B, {_ranges.Count} slices");
        OpenAfterRestart(powerLoss: false);
        for (int step = 0; step < steps && _violations.Count == 0; step++)
        {
            _nowMs += _random.Next(1, 400);
            try
            {
                Step();
            }
            catch (SimulatedCrashException)
            {
                _crashesInside++;
                Restart(powerLoss: _random.Next(2) == 0);
            }
        }

        return new StorageCrashReport(
            _seed, _policy, _writes, _readsChecked, _killCrashes, _powerLosses, _crashesInside, _splits, _compactions, _evictions,
            _disk.BytesLost, _disk.NameChangesLost, _violations, _traceHash.GetCurrentHashAsUInt64(), _trace);
    }

    private void Step()
    {
        int dice = _random.Next(1000);
        switch (dice)
        {
            case < 450:
                Put(RandomKey());
                break;
            case < 550:
                Delete(RandomKey());
                break;
            case < 580:
                StalePut(RandomKey());
                break;
            case < 740:
                CheckRead(RandomKey());
                break;
            case < 800:
                Touch(RandomKey());
                break;
            case < 830:
                Note("evict");
                long evictedBefore = _store!.Evictions;
                _store.EvictIfOverLimit();
                _evictions += _store.Evictions - evictedBefore;
                break;
            case < 900:
                Maintain();
                break;
            case < 915:
                Split();
                break;
            case < 925:
                Note("graceful restart");
                _store!.Flush();
                TouchesFlushed();
                MarkEverythingSynced();
                _store.Dispose();
                _store = null;
                OpenAfterRestart(powerLoss: false);
                break;
            case < 960:
                long changes = _random.Next(1, 40);
                Note($"crash armed for the change {changes} from now");
                _disk.ArmCrash(changes);
                break;
            default:
                _disk.Crash();
                Restart(powerLoss: _random.Next(2) == 0);
                break;
        }
    }

    private void Put(string key)
    {
        long version = NextVersion();
        byte[] value = ValueOf(key, version);
        KeyModel model = _keys[key];
        model.Written[version] = false;
        bool sliding = _random.Next(3) == 0;
        bool answered = _random.Next(4) == 0;
        EntryExpiry expiry = sliding ? new EntryExpiry(0, SlidingMs, _nowMs + SlidingMs) : EntryExpiry.None;
        var record = new StorageRecord(RecordKind.Put, key, version, expiry, value) { Answers = answered ? AnswersOf(key, version) : null };
        if (answered)
        {
            model.Answered.Add(version);
        }

        bool applied = _store!.Apply(record);
        Note($"put {key} v{version} ({value.Length} B{(sliding ? ", sliding" : "")}{(answered ? ", answered" : "")}): {applied}");
        Acknowledged(key, model, version, isDelete: false, applied, expected: true);
        model.Deadline = sliding ? new Deadlines(version, expiry.DeadlineMs, expiry.DeadlineMs, expiry.DeadlineMs) : null;
    }

    // A read on this node slides a sliding entry; the next maintenance round writes the Touch record.
    private void Touch(string key)
    {
        KeyModel model = _keys[key];
        SliceStore store = _store!.SliceFor(SmdSs.Hashing.KeyHash.Of(key));
        if (model.Deadline is not { } deadline || !store.TryGet(key, out StoredEntry entry) || entry.Version != deadline.Version)
        {
            return;
        }

        long slid = _nowMs + SlidingMs;
        if (entry.ExtendDeadline(slid))
        {
            store.MarkTouched(key);
            model.Deadline = deadline with { Now = slid };
            Note($"touch {key} v{entry.Version} to {slid}");
        }
    }

    private void Delete(string key)
    {
        long version = NextVersion();
        KeyModel model = _keys[key];
        model.Written[version] = true;
        bool removed = _store!.Apply(new StorageRecord(RecordKind.Delete, key, version, EntryExpiry.None, []));
        Note($"delete {key} v{version}: {removed}");
        Acknowledged(key, model, version, isDelete: true, removed, expected: model.Newest is { IsDelete: false });
    }

    // A replica's late write of a version older than the key's live one: refused.
    private void StalePut(string key)
    {
        KeyModel model = _keys[key];
        if (model.Newest is not { IsDelete: false } newest || model.Written.ContainsKey(newest.Version - 1))
        {
            return;
        }

        long version = newest.Version - 1;
        model.Written[version] = false;
        bool applied = _store!.Apply(new StorageRecord(RecordKind.Put, key, version, EntryExpiry.None, ValueOf(key, version)));
        Note($"stale put {key} v{version}: {applied}");
        if (applied)
        {
            Violation($"a Put of {key} at v{version} applied over the live v{newest.Version}");
        }
    }

    private void Acknowledged(string key, KeyModel model, long version, bool isDelete, bool result, bool expected)
    {
        _writes++;
        if (result != expected)
        {
            Violation($"{(isDelete ? "delete" : "put")} of {key} at v{version} returned {result}, expected {expected}");
        }

        model.Newest = new KeyState(version, isDelete);
        model.KeptAcrossKill = version;
        model.Deadline = null;
        if (_policy == FsyncPolicy.Always)
        {
            model.KeptAcrossPowerLoss = version;
            _syncedRanges = _ranges;
        }
    }

    private void CheckRead(string key)
    {
        _readsChecked++;
        KeyModel model = _keys[key];
        SliceStore store = _store!.SliceFor(SmdSs.Hashing.KeyHash.Of(key));
        string found = store.TryGet(key, out StoredEntry entry)
            ? Describe(key, entry.Version, entry.ValueInMemory ?? store.ReadValue(entry))
            : "absent";
        string expected = model.Newest is { IsDelete: false } newest ? $"v{newest.Version}" : "absent";
        Note($"read {key}: {found}");
        if (found != expected)
        {
            Violation($"a read of {key} found {found}, the newest write is {expected}");
        }
    }

    private void Maintain()
    {
        bool sync = _policy == FsyncPolicy.EverySecond;
        long compactedBefore = _store!.Compactions;
        _store.FlushTouches();
        TouchesFlushed();
        _store.Maintain(_nowMs, sync);
        _compactions += _store.Compactions - compactedBefore;
        Note($"maintained (sync: {sync}, {_store.Compactions - compactedBefore} files compacted)");
        if (sync)
        {
            MarkEverythingSynced();
        }
    }

    private void Split()
    {
        List<SliceRange> wide = [.. _ranges.Where(r => r.Width >= 1u << 26)];
        if (wide.Count == 0)
        {
            return;
        }

        SliceRange cut = wide[_random.Next(wide.Count)];
        SliceRange lower = new(cut.Start, cut.Midpoint - 1);
        SliceRange upper = new(cut.Midpoint, cut.End);
        // As the node: the slice map (with the halves) is persisted first, then the store follows it.
        _ranges = [.. _ranges.Where(r => r != cut).Append(lower).Append(upper).OrderBy(r => r.Start)];
        _splits++;
        Note($"split {cut} into {lower} and {upper}");
        _store!.Reshape(_ranges, _nowMs);
    }

    private void Restart(bool powerLoss)
    {
        if (powerLoss)
        {
            _powerLosses++;
        }
        else
        {
            _killCrashes++;
        }

        _store = null;
        Note(powerLoss ? "power loss" : "kill -9");
        _disk.Restart(powerLoss);
        ArmCrashInReplaySometimes();
        if (powerLoss && _syncedRanges != _ranges && _random.Next(2) == 0)
        {
            // The state file's rename with the newer map did not reach the disk.
            Note("the slice map of the last sync is back");
            _ranges = _syncedRanges;
        }

        while (true)
        {
            try
            {
                OpenAfterRestart(powerLoss);
                return;
            }
            catch (SimulatedCrashException)
            {
                _crashesInside++;
                bool again = _random.Next(2) == 0;
                Note(again ? "power loss during the replay" : "kill -9 during the replay");
                _disk.Restart(again);
                ArmCrashInReplaySometimes();
                // The check after the open takes the floors of the worst loss since the last one.
                powerLoss |= again;
            }
        }
    }

    private void OpenAfterRestart(bool powerLoss)
    {
        _store = new FlatFileStore(_settings);
        StoreLoadReport report = _store.Open(_ranges, _nowMs, answersSinceMs: 0);
        Note($"opened: {report.EntriesLoaded} entries, {report.AdoptedFiles.Count} files adopted, damage {string.Join(",", report.Slices.SelectMany(s => s.Damage).Select(d => $"{d.Length}@{d.Offset}{(d.AtTail ? " tail" : "")}"))}");
        foreach (SliceLoadReport slice in report.Slices)
        {
            if (slice.Damage.Any(d => !d.AtTail))
            {
                Violation($"{slice.Path}: damage inside the file after a restart: {string.Join(", ", slice.Damage)}");
            }
        }

        CheckLoaded(powerLoss, report);
    }

    // Every key holds a state one of its writes left, no older than the policy promised.
    private void CheckLoaded(bool powerLoss, StoreLoadReport report)
    {
        var newestAnswers = report.NewestAnswers.ToDictionary(n => n.Key, n => n.Answers, StringComparer.Ordinal);
        var held = new Dictionary<string, KeyState>(StringComparer.Ordinal);
        var values = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (SliceStore store in _store!.SliceStores)
        {
            foreach (StorageRecord record in store.ChangesSince(0, _nowMs))
            {
                if (record.Kind == RecordKind.Put)
                {
                    held[record.Key] = new KeyState(record.Version, IsDelete: false);
                    values[record.Key] = record.Value;
                }
                else if (record.Kind == RecordKind.Delete && !held.ContainsKey(record.Key))
                {
                    held[record.Key] = new KeyState(record.Version, IsDelete: true);
                }
            }
        }

        foreach ((string key, KeyModel model) in _keys)
        {
            long floor = powerLoss ? model.KeptAcrossPowerLoss : model.KeptAcrossKill;
            KeyState? state = held.TryGetValue(key, out KeyState s) ? s : null;
            string? problem = state switch
            {
                { IsDelete: false } put when !model.Written.TryGetValue(put.Version, out bool d) || d => $"holds v{put.Version}, which no Put wrote",
                { IsDelete: false } put when !values[key].AsSpan().SequenceEqual(ValueOf(key, put.Version)) => $"holds other bytes at v{put.Version}",
                { IsDelete: true } delete when !model.Written.TryGetValue(delete.Version, out bool d) || !d => $"holds a tombstone at v{delete.Version}, which no delete wrote",
                { } any when any.Version < floor => $"holds v{any.Version}, older than v{floor} the policy kept",
                // Nothing at all: nothing was kept, or a delete since then is past the tombstone retention (pruned on load).
                null when floor > 0 && !model.Written.Any(w => w.Value && w.Key >= floor && HybridTimestamp.PhysicalMsOf(w.Key) < _nowMs - TombstoneRetentionMs)
                    => $"is absent, but its write at v{floor} was kept and no delete of it can have been pruned",
                _ => null,
            };
            problem ??= AnswersProblem(key, model, state, newestAnswers) ?? DeadlineProblem(key, model, state, powerLoss);
            if (problem is not null)
            {
                Violation($"after a {(powerLoss ? "power loss" : "restart")}, {key} {problem}");
            }

            if (state is { IsDelete: false } live && _store!.SliceFor(SmdSs.Hashing.KeyHash.Of(key)).TryGet(key, out StoredEntry loaded))
            {
                // What the files hold is the deadline there is now; what the disk holds, only after a
                // power loss (after a kill -9 the operating system may still hold unsynced touches).
                long keptAcrossPowerLoss = powerLoss ? loaded.DeadlineMs
                    : model.Deadline is { } before && before.Version == live.Version ? Math.Min(before.KeptAcrossPowerLoss, loaded.DeadlineMs)
                    : 0;
                model.Deadline = loaded.SlidingMs > 0 ? new Deadlines(live.Version, loaded.DeadlineMs, loaded.DeadlineMs, keptAcrossPowerLoss) : null;
            }
            else
            {
                model.Deadline = null;
            }

            // From here on, what the disk holds is the key's history (a replica would bring lost writes back).
            model.Newest = state is { IsDelete: false } ? state : (state ?? new KeyState(0, IsDelete: true));
            model.KeptAcrossKill = state?.Version ?? 0;
            if (powerLoss)
            {
                model.KeptAcrossPowerLoss = model.KeptAcrossKill;
            }
        }

        if (powerLoss)
        {
            _syncedRanges = _ranges;
        }
    }

    // The start's own writes (a torn tail cut, a damaged file compacted, files adopted) crash too.
    private void ArmCrashInReplaySometimes()
    {
        if (_random.Next(4) == 0)
        {
            long changes = _random.Next(1, 12);
            Note($"crash armed for the change {changes} from now");
            _disk.ArmCrash(changes);
        }
    }

    private void MarkEverythingSynced()
    {
        foreach (KeyModel model in _keys.Values)
        {
            model.KeptAcrossPowerLoss = model.KeptAcrossKill;
            if (model.Deadline is { } deadline)
            {
                model.Deadline = deadline with { KeptAcrossPowerLoss = deadline.KeptAcrossKill };
            }
        }

        _syncedRanges = _ranges;
    }

    // The Touch records are in the files (and, under Always, on the disk).
    private void TouchesFlushed()
    {
        foreach (KeyModel model in _keys.Values)
        {
            if (model.Deadline is { } deadline)
            {
                model.Deadline = deadline with
                {
                    KeptAcrossKill = deadline.Now,
                    KeptAcrossPowerLoss = _policy == FsyncPolicy.Always ? deadline.Now : deadline.KeptAcrossPowerLoss,
                };
            }
        }
    }

    // A put that carried the answers of atomic operations comes back with them as its key's newest.
    private static string? AnswersProblem(string key, KeyModel model, KeyState? state, Dictionary<string, IReadOnlyList<OperationAnswer>> newestAnswers)
    {
        bool reported = newestAnswers.TryGetValue(key, out IReadOnlyList<OperationAnswer>? answers);
        if (state is not { IsDelete: false } live || !model.Answered.Contains(live.Version))
        {
            // Only puts carry answers here: a key whose newest is a tombstone, or nothing, has none to report.
            return reported ? $"{(state is { } held ? $"v{held.Version}" : "absent")} came back with answers of a record that is not its newest" : null;
        }

        List<OperationAnswer> expected = AnswersOf(key, live.Version);
        return reported && answers!.Count == expected.Count && answers.Zip(expected).All(p => p.First.Id == p.Second.Id && p.First.Answer.AsSpan().SequenceEqual(p.Second.Answer))
            ? null
            : $"v{live.Version} came back without the answers it carried (the load reported {(reported ? answers!.Count : 0)})";
    }

    // A sliding entry's deadline: no earlier than the policy kept, no later than a read moved it.
    private string? DeadlineProblem(string key, KeyModel model, KeyState? state, bool powerLoss)
    {
        if (state is not { IsDelete: false } live || model.Deadline is not { } deadline || deadline.Version != live.Version
            || !_store!.SliceFor(SmdSs.Hashing.KeyHash.Of(key)).TryGet(key, out StoredEntry loaded))
        {
            return null;
        }

        long floor = powerLoss ? deadline.KeptAcrossPowerLoss : deadline.KeptAcrossKill;
        return loaded.DeadlineMs < floor || loaded.DeadlineMs > deadline.Now
            ? $"v{live.Version} has its deadline at {loaded.DeadlineMs}, outside [{floor}, {deadline.Now}]"
            : null;
    }

    private string RandomKey() => $"key-{_random.Next(KeyCount)}";

    private long NextVersion()
    {
        _lastVersion = Math.Max(_lastVersion + 1, HybridTimestamp.FirstVersionAt(_nowMs));
        return _lastVersion;
    }

    // The bytes of a key's write at a version: any length up to 3 KiB, known from the two alone.
    private static byte[] ValueOf(string key, long version)
    {
        ulong seed = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes($"{key}@{version}"));
        byte[] value = new byte[(int)(seed % 3_000)];
        new Random((int)seed).NextBytes(value);
        return value;
    }

    private static List<OperationAnswer> AnswersOf(string key, long version) =>
    [
        new OperationAnswer((ulong)version, SmdSs.Hashing.KeyHash.Of(key), BitConverter.GetBytes(version ^ 0x5A5A)),
        new OperationAnswer((ulong)version + 1, SmdSs.Hashing.KeyHash.Of(key), ValueOf(key, version + 1).AsSpan(0, Math.Min(40, ValueOf(key, version + 1).Length)).ToArray()),
    ];

    private static string Describe(string key, long version, byte[]? value) =>
        value is not null && value.AsSpan().SequenceEqual(ValueOf(key, version)) ? $"v{version}" : $"v{version} with other bytes";

    private void Violation(string what)
    {
        _violations.Add(what);
        Note("VIOLATION: " + what);
    }

    private void Note(string line)
    {
        _traceHash.Append(Encoding.UTF8.GetBytes(line));
        if (KeepTrace)
        {
            _trace.Add($"{_nowMs} {line}");
        }
    }

    private static IReadOnlyList<SliceRange> Quarters() =>
    [
        new SliceRange(0x0000_0000, 0x3FFF_FFFF),
        new SliceRange(0x4000_0000, 0x7FFF_FFFF),
        new SliceRange(0x8000_0000, 0xBFFF_FFFF),
        new SliceRange(0xC000_0000, 0xFFFF_FFFF),
    ];

    private readonly record struct KeyState(long Version, bool IsDelete);

    /// <summary>
    /// A sliding entry's deadline at <see cref="Version"/>: as reads moved it (<see cref="Now"/>),
    /// and the earliest a kill -9 or a power loss may leave (0: unknown).
    /// </summary>
    private readonly record struct Deadlines(long Version, long Now, long KeptAcrossKill, long KeptAcrossPowerLoss);

    /// <summary>One key's writes (version: whether it deleted), the state the store holds now, and the floors the policy keeps.</summary>
    private sealed class KeyModel
    {
        public SortedDictionary<long, bool> Written { get; } = [];

        public KeyState? Newest { get; set; }

        public long KeptAcrossKill { get; set; }

        public long KeptAcrossPowerLoss { get; set; }

        /// <summary>Versions whose Put carried answers.</summary>
        public HashSet<long> Answered { get; } = [];

        /// <summary>When the newest state is a sliding entry, its deadlines.</summary>
        public Deadlines? Deadline { get; set; }
    }
}
