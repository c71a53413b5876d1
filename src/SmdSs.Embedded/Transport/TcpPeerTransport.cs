using System.Collections.Concurrent;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Transport;

/// <summary>
/// Pooled client connections: a few per peer endpoint, opened on first use, replaced when they
/// break. Requests multiplex over them round-robin. Pools of endpoints nobody lists any more are
/// closed after a minute unused.
/// </summary>
internal sealed class TcpPeerTransport(NodeId self, Func<string> selfEndpoint, Handshake handshake, int maxFrameBytes) : IPeerTransport
{
    private const int ConnectionsPerPeer = 2;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<string, Pool> _pools = new(StringComparer.OrdinalIgnoreCase);

    private volatile bool _disposed;

    public async Task<Frame> SendAsync(string endpoint, MessageType type, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // A stopped node's late background work must not open new connections.
        if (_disposed)
        {
            throw new PeerUnavailableException(endpoint, "this node's transport is closed");
        }

        long started = Environment.TickCount64;
        PeerConnection? connection = null;
        // Waiting for a connection (behind other connect attempts) counts against the timeout.
        using (var connectDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            connectDeadline.CancelAfter(timeout);
            while (connection is null)
            {
                Pool pool = _pools.GetOrAdd(endpoint, e => new Pool(e, ConnectAsync));
                try
                {
                    // Null when the pool was closed meanwhile (forgotten): the next one is made.
                    connection = await pool.GetAsync(connectDeadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new PeerUnavailableException(endpoint, $"no connection within {timeout.TotalMilliseconds:0} ms", ex);
                }

                if (connection is null && _disposed)
                {
                    throw new PeerUnavailableException(endpoint, "this node's transport is closed");
                }
            }
        }

        TimeSpan left = timeout - TimeSpan.FromMilliseconds(Environment.TickCount64 - started);
        return await connection.SendAsync(type, payload, left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How long a pool of an endpoint nobody lists any more is kept after its last use.</summary>
    internal static readonly TimeSpan UnlistedPoolIdle = TimeSpan.FromMinutes(1);

    /// <summary>The endpoints this transport holds connections to.</summary>
    internal IReadOnlyCollection<string> PooledEndpoints => [.. _pools.Keys];

    public void ForgetUnlisted(Func<string, bool> isListed) => ForgetUnlisted(isListed, UnlistedPoolIdle);

    internal void ForgetUnlisted(Func<string, bool> isListed, TimeSpan idle)
    {
        long cutoff = Environment.TickCount64 - (long)idle.TotalMilliseconds;
        foreach (KeyValuePair<string, Pool> entry in _pools)
        {
            // Only this very pool: a new one made for the endpoint meanwhile stays.
            if (!isListed(entry.Key) && entry.Value.LastUsedMs <= cutoff && _pools.TryRemove(entry))
            {
                _ = entry.Value.DisposeAsync().AsTask();
            }
        }
    }

    public void Forget(string endpoint)
    {
        if (_pools.TryRemove(endpoint, out Pool? pool))
        {
            _ = pool.DisposeAsync().AsTask();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        foreach (Pool pool in _pools.Values)
        {
            await pool.DisposeAsync().ConfigureAwait(false);
        }

        _pools.Clear();
    }

    private Task<PeerConnection> ConnectAsync(string endpoint, CancellationToken cancellationToken) =>
        PeerConnection.ConnectAsync(endpoint, self, selfEndpoint(), handshake, maxFrameBytes, cancellationToken);

    private sealed class Pool(string endpoint, Func<string, CancellationToken, Task<PeerConnection>> connect) : IAsyncDisposable
    {
        private readonly PeerConnection?[] _slots = new PeerConnection?[ConnectionsPerPeer];
        private readonly SemaphoreSlim _connectLock = new(1, 1);
        private int _next;
        private long _lastUsedMs = Environment.TickCount64;
        private volatile bool _closed;

        public long LastUsedMs => Volatile.Read(ref _lastUsedMs);

        /// <summary>An open connection of this pool, or null once the pool is closed.</summary>
        public async ValueTask<PeerConnection?> GetAsync(CancellationToken cancellationToken)
        {
            Volatile.Write(ref _lastUsedMs, Environment.TickCount64);
            int slot = (int)((uint)Interlocked.Increment(ref _next) % ConnectionsPerPeer);
            if (!_closed && Volatile.Read(ref _slots[slot]) is { IsOpen: true } open)
            {
                return open;
            }

            await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_closed)
                {
                    return null;
                }

                if (_slots[slot] is { IsOpen: true } raced)
                {
                    return raced;
                }

                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(ConnectTimeout);
                PeerConnection connection = await connect(endpoint, timeout.Token).ConfigureAwait(false);
                Volatile.Write(ref _slots[slot], connection);
                return connection;
            }
            finally
            {
                _connectLock.Release();
            }
        }

        /// <summary>Closes the pool: no connection is made in it any more, and those it holds close.</summary>
        public async ValueTask DisposeAsync()
        {
            // Under the connect lock: a connection being made now is stored before this closes it.
            await _connectLock.WaitAsync().ConfigureAwait(false);
            try
            {
                _closed = true;
            }
            finally
            {
                _connectLock.Release();
            }

            foreach (PeerConnection? connection in _slots)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

    }
}
