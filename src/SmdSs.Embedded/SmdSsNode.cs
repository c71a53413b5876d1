using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Replication;
using SmdSs.Storage;

namespace SmdSs;

/// <summary>
/// One SMD-SS node: the pie-slice map, the flat-file store of the slices it holds, and the
/// key-value service over them. Start it before use and stop it to flush; the ASP.NET Core
/// integration (<c>AddSmdSs</c>) does both with the host.
/// </summary>
public sealed partial class SmdSsNode : ISmdSsKeyValueStore, IAsyncDisposable, IDisposable
{
    private readonly SmdSsOptions _options;

    // The farm's first layout: every slice is a piece of one of these (see MapSync.Answer).
    private readonly SliceMap _initialLayout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IMeterFactory? _meterFactory;
    private readonly HybridClock _clock = new();
    // Never disposed: it has no wait handle, and Dispose may race a late StopAsync from the host.
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private NodeDataDirectory? _directory;
    private FlatFileStore? _store;
    private Core.SliceAuthority? _slices;
    private Core.RecordConfirmations? _recordConfirmations;
    private SmdSsMetrics? _metrics;
    private CancellationTokenSource? _stopping;
    // Its token, read where the source may be disposed meanwhile (a cancelled token stays readable).
    private CancellationToken _stoppingToken;

    // Work started off the loops (confirmations, takeover pings and exchanges): awaited at stop, so
    // none of it touches the files or the transport after they are released.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Task, byte> _background = new();

    private void Track(Task work)
    {
        if (_background.TryAdd(work, 0))
        {
            _ = work.ContinueWith(done => _background.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
    private Task[] _loops = [];

    /// <summary>Creates a node; nothing is opened until <see cref="StartAsync"/>.</summary>
    /// <param name="options">The node's options.</param>
    /// <param name="timeProvider">The clock; the system clock when null.</param>
    /// <param name="loggerFactory">Where the node logs; nowhere when null.</param>
    /// <param name="meterFactory">Where the node's metrics go; none when null.</param>
    /// <param name="processors">The entry processors this node runs (the same on every node).</param>
    /// <param name="mapFunctions">The map functions this node runs (the same on every node).</param>
    /// <exception cref="OptionsValidationException">The options are invalid; the message names each bad option.</exception>
    /// <exception cref="ArgumentException">Two processors or two map functions share a name, or a map function uses the reserved prefix <c>smdss.</c>.</exception>
    public SmdSsNode(
        IOptions<SmdSsOptions> options,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        IEnumerable<ISmdSsEntryProcessor>? processors = null,
        IEnumerable<ISmdSsMapFunction>? mapFunctions = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        ValidateOptionsResult validation = new SmdSsOptionsValidator().Validate(Options.DefaultName, _options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(SmdSsOptions), validation.Failures);
        }

        _initialLayout = SliceMap.CreateInitial(_options.InitialSliceCount, []);

        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SmdSs.Node");
        _meterFactory = meterFactory;
        long answerRetentionMs = (long)Math.Max(60_000, 3 * _options.RequestTimeout.TotalMilliseconds);
        _recentOperations = new Compute.RecentOperations(answerRetentionMs);
        _inDoubt = new Compute.InDoubtOperations(answerRetentionMs);
        foreach (ISmdSsEntryProcessor processor in processors ?? [])
        {
            ArgumentException.ThrowIfNullOrEmpty(processor.Name, nameof(processors));
            if (!_processors.TryAdd(processor.Name, processor))
            {
                throw new ArgumentException($"Two entry processors are named '{processor.Name}'.", nameof(processors));
            }
        }

        foreach (ISmdSsMapFunction function in mapFunctions ?? [])
        {
            ArgumentException.ThrowIfNullOrEmpty(function.Name, nameof(mapFunctions));
            if (function.Name.StartsWith(Compute.BuiltInMapFunctions.ReservedPrefix, StringComparison.Ordinal) || !_mapFunctions.TryAdd(function.Name, function))
            {
                throw new ArgumentException($"The map function name '{function.Name}' is taken (names starting with '{Compute.BuiltInMapFunctions.ReservedPrefix}' are reserved).", nameof(mapFunctions));
            }
        }

        foreach (ISmdSsMapFunction builtIn in Compute.BuiltInMapFunctions.All)
        {
            _mapFunctions.Add(builtIn.Name, builtIn);
        }
    }

    /// <summary>This node's stable id (16 hex digits), or null before the first start.</summary>
    public string? NodeId => _directory?.NodeId.ToString();

    /// <summary>True between a successful <see cref="StartAsync"/> and <see cref="StopAsync"/>.</summary>
    public bool IsRunning => _store is not null;

    internal SliceMap? SliceMap => Volatile.Read(ref _slices)?.Map;

    internal FlatFileStore? Store => _store;

    internal TimeProvider Time => _time;

    /// <summary>
    /// Opens the data directory, replays the slice files, binds the listener and joins the
    /// cluster through the friends; the node serves once this returns (a friend that is down
    /// delays nothing).
    /// </summary>
    /// <exception cref="InvalidOperationException">The data directory cannot be created, written or locked, or Listen cannot be bound.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_store is not null)
            {
                return;
            }

            Open();
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Says goodbye (hands over the primary role of its slices and tells its peers, so that no
    /// request waits on a timeout), persists pending touches, fsyncs every file and releases the
    /// data directory.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_store is null)
            {
                return;
            }

            await SayGoodbyeAsync().ConfigureAwait(false);
            await _stopping!.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await _downSync.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await Task.WhenAll(_background.Keys).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await _listener!.DisposeAsync().ConfigureAwait(false);
            await _transport!.DisposeAsync().ConfigureAwait(false);
            FlatFileStore store = _store;
            _store = null;
            store.Flush();
            lock (_stateLock)
            {
                PersistState();
            }
            Log.NodeStopped(_logger, NodeId!, store.Count, _directory!.Path);
            store.Dispose();
            if (_suspect.Length == 0)
            {
                _directory.MarkStopped();
            }

            _directory.Dispose();
            _metrics?.Dispose();
            _metrics = null;
            _stopping.Dispose();
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Stops dead, as a crash would: no goodbye, no hand-over, no flush of pending touches.
    /// Acknowledged writes are already in the files; tests use this to kill an in-process node.
    /// </summary>
    internal async Task CrashAsync()
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_store is null)
            {
                return;
            }

            await _stopping!.CancelAsync().ConfigureAwait(false);
            await _listener!.DisposeAsync().ConfigureAwait(false);
            await _transport!.DisposeAsync().ConfigureAwait(false);
            await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await _downSync.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await Task.WhenAll(_background.Keys).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            FlatFileStore store = _store;
            _store = null;
            store.Dispose();
            _directory!.Dispose();
            _metrics?.Dispose();
            _metrics = null;
            _stopping.Dispose();
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Stops the node (see <see cref="StopAsync"/>); safe to call more than once.</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>Stops the node synchronously, for containers disposed without async; safe to call more than once.</summary>
    public void Dispose() => StopAsync().GetAwaiter().GetResult();

    private void Open()
    {
        long started = Stopwatch.GetTimestamp();
        NodeDataDirectory directory = NodeDataDirectory.Open(_options.DataDirectory, BootId(), _options.FsyncPolicy);
        FlatFileStore? store = null;
        try
        {
            var settings = new StoreSettings(
                directory.SlicesPath,
                _options.FsyncPolicy,
                _options.MaxMemoryBytes,
                RecordCodec.FixedBodyBytes + SmdSsLimits.MaxKeyBytes + _options.MaxValueBytes + RecordAnswers.MaxBytes + 4,
                _options.CompactionDeadBytesThreshold,
                (long)_options.TombstoneRetention.TotalMilliseconds);
            (NodeMap savedNodes, SliceMap map, _) = InitialMaps(directory);
            store = new FlatFileStore(settings);
            _recentOperations.CountAgainst(store.Memory);
            StoreLoadReport report = store.Open([.. map.Slices.Select(s => s.Range)], NowMs(), NowMs() - _recentOperations.RetentionMs);
            ReportLoad(report);
            RecoverAnswers(report, map, directory.NodeId);
            _clock.Observe(store.SliceStores.Select(s => s.MaxVersion).DefaultIfEmpty(0).Max());

            _directory = directory;
            _slices = new Core.SliceAuthority(directory.NodeId, map, (long)LeaseDuration.TotalMilliseconds, MonoMs(), _initialLayout);
            _recordConfirmations = new Core.RecordConfirmations(directory.NodeId);
            NoteMachineWentDown(directory, map);
            _goingDown = false;
            _decommissioned = false;
            // Before the listener starts: a handler may start work that runs until the node stops.
            _stopping = new CancellationTokenSource();
            CancellationToken stopping = _stopping.Token;
            _stoppingToken = stopping;
            StartCluster(directory, savedNodes);
            _metrics = new SmdSsMetrics(_meterFactory, directory.NodeId.ToString(), () => _store);
            _store = store;
            _loops =
            [
                Task.Run(() => MaintainAsync(stopping), CancellationToken.None),
                RunLoop(GossipLoopAsync, stopping),
                RunLoop(FailureDetectionLoopAsync, stopping),
                RunLoop(LeaseLoopAsync, stopping),
                RunLoop(PlacementLoopAsync, stopping),
                RunLoop(AntiEntropyLoopAsync, stopping),
            ];
            _ = ConfirmAfterTimeoutAsync(stopping);
            if (Withdrawn)
            {
                Track(StepDownAsync(directory, stopping));
            }
            Log.NodeStarted(_logger, NodeId!, directory.Incarnation, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                directory.Path, map.Count, report.EntriesLoaded, store.DiskBytes, _options.FsyncPolicy);
        }
        catch
        {
            store?.Dispose();
            _store = null;
            _directory = null;
            directory.Dispose();
            throw;
        }
    }

    /// <summary>Runs a cluster loop until the node stops; a failure is logged and the loop restarts.</summary>
    private Task RunLoop(Func<CancellationToken, Task> loop, CancellationToken stopping) => Task.Run(async () =>
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await loop(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A background loop must survive any bug in one round; it is logged.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.ClusterTaskFailed(_logger, ex);
                await Task.Delay(TimeSpan.FromMilliseconds(200), _time, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }, CancellationToken.None);

    // "A friend that is down delays nothing": without an answer the node serves on its own maps.
    private async Task ConfirmAfterTimeoutAsync(CancellationToken stopping)
    {
        try
        {
            await Task.Delay(StartupSyncTimeout, _time, stopping).ConfigureAwait(false);
            if (_confirmed.TrySetResult())
            {
                ConfirmRecords();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped first.
        }
    }

    private void ReportLoad(StoreLoadReport report)
    {
        foreach (SliceLoadReport slice in report.Slices)
        {
            foreach (ReplayDamage damage in slice.Damage)
            {
                Log.DamageDropped(_logger, slice.Path, damage.Length, damage.Offset, damage.AtTail ? "torn tail, cut off" : "corrupt record, file compacted");
            }
        }

        foreach (string adopted in report.AdoptedFiles)
        {
            Log.OrphanAdopted(_logger, adopted);
        }
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private FlatFileStore RunningStore() =>
        _store ?? throw new InvalidOperationException("The SMD-SS node is not running: start it (the host does, via AddSmdSs) before using the cache.");
}
