using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using SmdSs.Cluster;
using SmdSs.Diagnostics;
using SmdSs.Membership;
using SmdSs.Model;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs;

/// <summary>
/// Cluster state: this node's view of the node map and the slice map, swapped atomically as
/// immutable snapshots (request paths read them without a lock) and persisted on every change.
/// </summary>
public sealed partial class SmdSsNode
{
    private static readonly TimeSpan StartupSyncTimeout = TimeSpan.FromSeconds(3);

    private readonly Lock _stateLock = new();
    private readonly ConcurrentDictionary<uint, byte> _bootstrapOrphans = new();
    private Core.MembershipState? _membership;
    private ClusterListener? _listener;
    private IPeerTransport? _transport;
    private FailureDetector? _detector;
    private TaskCompletionSource _confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal NodeMap Nodes => Volatile.Read(ref _membership)?.Nodes ?? NodeMap.Empty;

    /// <summary>This node's own record (null before the first start).</summary>
    private NodeRecord? SelfRecord => Volatile.Read(ref _membership)?.Self;

    /// <summary>The cluster listener while the node runs (its bounds are observable to tests).</summary>
    internal Transport.ClusterListener? Listener => _listener;

    internal NodeId Self => SelfRecord!.Id;

    /// <summary>The endpoint peers reach this node at (the real port when Listen asked for port 0).</summary>
    public string? Endpoint => SelfRecord?.Endpoint;

    /// <summary>Replaces the TCP transport (tests inject faults here). Set before <see cref="StartAsync"/>.</summary>
    internal Func<IPeerTransport, IPeerTransport>? TransportDecorator { get; set; }

    /// <summary>Completed once this node's maps are confirmed by a peer (or no peer answered in time).</summary>
    internal Task Confirmed => _confirmed.Task;

    private int WriteQuorum => _options.WriteQuorum > 0 ? _options.WriteQuorum : (_options.ReplicationFactor / 2) + 1;

    // Int128: at a nanosecond frequency a long product overflows after 106 days of uptime.
    private long MonoMs() => (long)((Int128)_time.GetTimestamp() * 1000 / _time.TimestampFrequency);

    /// <summary>The maps to start from: the saved ones, else the files' layout, else a fresh pie.</summary>
    private (NodeMap Nodes, SliceMap Slices, bool Saved) InitialMaps(NodeDataDirectory directory)
    {
        if (ClusterStateFile.TryRead(directory.Path, NowMs()) is { } saved)
        {
            NodeMap nodes = NodeRetention.Restored(
                saved.Nodes, directory.NodeId, saved.SavedAtMs, saved.Contacts, saved.ContactsUntilMs, saved.Slices.NamedNodes(), NowMs(), _options.NodeRetention,
                out List<string> contacts, out _contactsUntilMs);
            _contacts = [.. contacts.Where(c => !_options.Friends.Contains(c, StringComparer.OrdinalIgnoreCase))];
            return (nodes, saved.Slices, true);
        }

        _contacts = [];
        _contactsUntilMs = 0;

        ImmutableArray<NodeId> self = [directory.NodeId];
        // A node with friends starts at epoch 0, so that any established cluster's map wins
        // over its bootstrap map; among fresh nodes the lowest primary id wins the tie.
        long epoch = _options.Friends.Count > 0 ? 0 : 1;
        SliceMap map = FlatFileStore.DiscoverRanges(Storage.OsDisk.Instance, directory.SlicesPath) is { } ranges
            ? SliceMap.FromSlices(ranges.Select(r => new PieSlice(r, epoch, self)))
            : SliceMap.CreateInitial(_options.InitialSliceCount, self);
        if (epoch == 0)
        {
            map = SliceMap.FromSlices(map.Slices.Select(s => s with { Epoch = 0 }));
        }

        return (NodeMap.Empty, map, false);
    }

    private void StartCluster(NodeDataDirectory directory, NodeMap savedNodes)
    {
        if (!NodeEndpoint.TryParseListen(_options.Listen, out IPEndPoint listen))
        {
            throw new InvalidOperationException($"SmdSs:Listen '{_options.Listen}' is not an ip:port endpoint.");
        }

        var handshake = new Handshake(_options.ClusterSecret, _options.AdditionalClusterSecrets);
        int maxFrameBytes = _options.MaxValueBytes + SmdSsLimits.MaxKeyBytes + (2 << 20);
        _listener = new ClusterListener(listen, directory.NodeId, handshake, maxFrameBytes, new FrameHandler(this), _logger);
        string endpoint = new IPEndPoint(listen.Address, _listener.LocalEndpoint.Port).ToString();
        var self = new NodeRecord(directory.NodeId, endpoint, NodeState.Up, directory.Incarnation << 20, 0, 0);
        // The node's own address is no contact (an old id of this node may have had it).
        _contacts = [.. _contacts.Where(c => !string.Equals(c, endpoint, StringComparison.OrdinalIgnoreCase))];
        lock (_stateLock)
        {
            _membership = new Core.MembershipState(self, savedNodes, _options.NodeRetention, SmdSsLimits.MaxNodes);
        }

        IPeerTransport transport = new TcpPeerTransport(directory.NodeId, () => endpoint, handshake, maxFrameBytes);
        _transport = TransportDecorator?.Invoke(transport) ?? transport;
        _detector = new FailureDetector(_options.FailureDetectionTimeout * 0.4, _options.FailureDetectionTimeout);
        _goodbyes = new Goodbyes(_detector);
        ResetContact();
        _confirmed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_options.Friends.Count == 0 && _contacts.Count == 0 && !Peers().Any())
        {
            _confirmed.TrySetResult();
        }

        if (_options.ClusterSecret is null && _options.AllowInsecureCluster)
        {
            Log.InsecureCluster(_logger, endpoint);
        }

        _listener.Start();

        Log.Listening(_logger, directory.NodeId.ToString(), endpoint, string.Join(",", _options.Friends));
    }

    /// <summary>Every other node in the map that is not gone for good.</summary>
    private IEnumerable<NodeRecord> Peers() => Nodes.Nodes.Where(n => n.Id != SelfRecord!.Id && n.State != NodeState.Left);

    private bool IsReachable(NodeId node) => node == SelfRecord!.Id || Nodes.Find(node)?.IsReachable == true;

    private bool IsServing(NodeId node) => node == SelfRecord!.Id || Nodes.Find(node)?.IsServing == true;

    /// <summary>Merges node records from a peer. A record that says this node is suspect or down is refuted.</summary>
    /// <exception cref="Protocol.PeerRefusedException">A record out of <see cref="Replication.PeerClaims"/>' bounds; none is merged.</exception>
    private void MergeNodes(IEnumerable<NodeRecord> input)
    {
        IReadOnlyCollection<NodeRecord> records = input as IReadOnlyCollection<NodeRecord> ?? [.. input];
        Core.MembershipChange change;
        lock (_stateLock)
        {
            change = _membership!.Merge(records, SliceMap!, NowMs(), mayRefute: !_goingDown && !_stopping!.IsCancellationRequested);
            foreach (NodeRecord evicted in change.Evicted)
            {
                ForgetSideState(evicted.Id);
            }

            if (change.MapChanged)
            {
                PersistState();
            }
        }

        if (change.Refusal is { } refusal)
        {
            throw new Protocol.PeerRefusedException(refusal);
        }

        ReportNodeMapFull(change);
        foreach (NodeRecord record in change.Changed)
        {
            Log.PeerStateChanged(_logger, record.Id.ToString(), record.Endpoint, record.State.ToString(), record.Incarnation);
            if (!record.IsReachable)
            {
                _transport?.Forget(record.Endpoint);
            }

            WarnOnDuplicateEndpoint(record);
        }
    }

    private void WarnOnDuplicateEndpoint(NodeRecord record)
    {
        NodeRecord? twin = Nodes.Nodes.FirstOrDefault(n => n.Id != record.Id && n.IsServing && record.IsServing
            && string.Equals(n.Endpoint, record.Endpoint, StringComparison.OrdinalIgnoreCase));
        if (twin is not null)
        {
            Log.DuplicateEndpoint(_logger, record.Endpoint, twin.Id.ToString(), record.Id.ToString());
        }
    }

    /// <summary>Merges slice records from a peer (higher epoch wins).</summary>
    /// <exception cref="Protocol.PeerRefusedException">A record out of <see cref="Replication.PeerClaims"/>' bounds; none is merged.</exception>
    private void MergeSlices(IEnumerable<PieSlice> input)
    {
        IReadOnlyCollection<PieSlice> records = input as IReadOnlyCollection<PieSlice> ?? [.. input];
        RefuseForgedSlices(records);
        List<(PieSlice Before, PieSlice After)> changes;
        lock (_stateLock)
        {
            changes = _slices!.Merge(records, MonoMs(), out List<PieSlice> unknown);
            if (unknown.Count > 0)
            {
                ReportLayoutMismatch(unknown[0]);
            }

            if (changes.Count == 0)
            {
                return;
            }

            InheritAnswers([.. changes.Where(c => c.After.Primary == SelfRecord!.Id && c.Before.Primary != SelfRecord.Id).Select(c => c.After.Range)]);
            foreach ((PieSlice mine, PieSlice record) in changes)
            {
                // This node's bootstrap map lost to the cluster's: what it took while alone is
                // unique and goes to the slice's real primary. Any other loss of a slice is a
                // planned move, after which this node's copy is redundant and is wiped.
                if (mine.Epoch == 0 && mine.Primary == SelfRecord!.Id && !record.IsHeldBy(SelfRecord.Id))
                {
                    _bootstrapOrphans.TryAdd(record.Range.Start, 0);
                }
            }

            PersistState();
            ReshapeStore(_slices.Map);
        }

        foreach ((_, PieSlice slice) in changes)
        {
            LogSlice(slice, "learned");
        }

        if (changes.Any(c => c.After.Primary == SelfRecord!.Id && c.Before.Primary != SelfRecord.Id))
        {
            // Handed a slice: its writes wait for every replica its predecessor listed until a majority holds the record.
            ConfirmRecords();
        }
    }

    // Slices of another layout never merge: the nodes would never converge. Said once a minute.
    private void ReportLayoutMismatch(PieSlice foreign)
    {
        long now = MonoMs();
        if (now - Interlocked.Read(ref _layoutMismatchLoggedMs) >= 60_000)
        {
            Interlocked.Exchange(ref _layoutMismatchLoggedMs, now);
            Log.SliceLayoutMismatch(_logger, foreign.Range.ToString(), SliceMap!.Count);
        }
    }

    private long _layoutMismatchLoggedMs = long.MinValue / 2;

    /// <summary>
    /// Commits a new record for a slice this node is primary of (or takes over), carrying out the
    /// steps of <see cref="Core.SliceCommit"/>: a replica that leaves the in-sync set is dropped
    /// only after the read lease it holds has run out, so it can never serve a read that misses a
    /// write acknowledged without it; a hand-over waits for this node's writes in flight on the slice.
    /// </summary>
    private async Task<bool> CommitSliceAsync(PieSlice basedOn, PieSlice next, string reason, CancellationToken cancellationToken, Func<bool>? stillValid = null)
    {
        next = WithHints(basedOn, next);
        // This authority throughout: a restart of the node meanwhile makes a new one.
        Core.SliceAuthority authority = _slices!;
        Core.SliceCommit commit;
        lock (_stateLock)
        {
            commit = new Core.SliceCommit(authority, SelfRecord!.Id, basedOn, next, pollMs: 10);
        }

        Core.CommitResult result;
        try
        {
            while (true)
            {
                Core.CommitStep step;
                lock (_stateLock)
                {
                    step = commit.Step(MonoMs(), Withdrawn, WritingIn(basedOn.Range));
                }

                if (step.Kind == Core.CommitStepKind.GiveUp)
                {
                    return false;
                }

                if (step.Kind == Core.CommitStepKind.Wait)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, step.AtMs - MonoMs())), _time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (step.Kind == Core.CommitStepKind.SendPendingRenewals)
                {
                    await SendPendingTouchesAsync(basedOn).ConfigureAwait(false);
                    continue;
                }

                break;
            }

            lock (_stateLock)
            {
                bool consent = HasCommitQuorum() && stillValid?.Invoke() != false;
                result = commit.End(MonoMs(), consent);
                if (result.IsCommitted)
                {
                    PersistState();
                    if (result.InheritsAnswers)
                    {
                        InheritAnswers([next.Range]);
                    }
                }
            }
        }
        catch
        {
            lock (_stateLock)
            {
                commit.Abandon();
            }

            throw;
        }

        if (!result.IsCommitted)
        {
            return false;
        }

        ForgetHints(current: basedOn, next);

        LogSlice(next, reason);
        _metrics?.SliceChanged(reason);
        PushSlice(next);
        if (result.AsksConfirmation)
        {
            // Writes wait for the replicas it took out until a majority holds it: ask now, not next round.
            ConfirmRecords();
        }

        return true;
    }

    /// <summary>The hints a new record carries (<see cref="Core.ReplicaHints.For"/>); a write may be in flight for a request's whole time.</summary>
    private PieSlice WithHints(PieSlice current, PieSlice next)
    {
        long inFlightMs = (long)(_options.RequestTimeout + AckTimeout + LeaseDuration).TotalMilliseconds;
        return Core.ReplicaHints.For(current, next, replica => _missed.Since(next.Range.Start, replica), HybridTimestamp.FirstVersionAt(NowMs() - inFlightMs));
    }

    /// <summary>Memory hints are useless once a replica is in sync again or gone, and on a node that no longer leads the slice.</summary>
    private void ForgetHints(PieSlice current, PieSlice next)
    {
        uint start = next.Range.Start;
        if (next.Primary != SelfRecord!.Id)
        {
            _missed.ForgetSlice(start);
            return;
        }

        foreach (NodeId replica in current.Replicas.Where(n => !next.IsHeldBy(n) || next.IsInSync(n)))
        {
            _missed.Forget(start, replica);
        }
    }

    private void PersistState()
    {
        // Every change of the maps passes here, right after it (under the state lock but at stop).
        RecountVoters();
        if (_directory is { } directory)
        {
            _savedAtMs = NowMs();
            ClusterStateFile.Write(directory.Path, _membership!.Nodes, _slices!.Map, _savedAtMs, _contacts, _contactsUntilMs);
        }
    }

    private void LogSlice(PieSlice slice, string reason) =>
        Log.SliceChanged(_logger, slice.Range.ToString(), slice.Epoch, string.Join(",", slice.Replicas), string.Join(",", slice.InSync), reason);
}
