using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SmdSs.Diagnostics;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Transport;

/// <summary>
/// The node's TCP listener: many connections, each authenticated by the handshake before any
/// other frame is read, then serving requests concurrently (responses in any order, matched by
/// request id). A connection that breaks the protocol is closed with a logged reason (at most
/// ten a second; the rest are counted); the listener and every other connection carry on. Bounded
/// (<see cref="SmdSsLimits"/>): connections in their handshake (in all and per address), peer
/// connections (in all and per node), requests and request bytes in flight per connection (past
/// them a request is answered "busy" at once: the read loop never stops, so no two nodes can wait
/// on each other), answer bytes waiting for a peer that does not read (the connection is closed),
/// idle connections; TCP keep-alive ends half-open ones.
/// </summary>
internal sealed class ClusterListener : IAsyncDisposable
{
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly NodeId _self;
    private readonly Handshake _handshake;
    private readonly int _maxFrameBytes;
    private readonly IFrameHandler _handler;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private static readonly TimeSpan IdleSweepInterval = TimeSpan.FromSeconds(15);
    private readonly List<Task> _connections = [];
    private readonly Lock _connectionsLock = new();
    private readonly InboundConnections _limits = new(
        SmdSsLimits.MaxHandshakingConnections, SmdSsLimits.MaxHandshakingConnectionsPerAddress, SmdSsLimits.MaxPeerConnections, SmdSsLimits.MaxConnectionsPerPeer);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ServedConnection, byte> _served = new();
    private readonly LogRateLimit _refusalLog = new(10);
    private Task _acceptLoop = Task.CompletedTask;
    private Task _idleSweep = Task.CompletedTask;

    public ClusterListener(IPEndPoint endpoint, NodeId self, Handshake handshake, int maxFrameBytes, IFrameHandler handler, ILogger logger)
    {
        _self = self;
        _handshake = handshake;
        _maxFrameBytes = maxFrameBytes;
        _handler = handler;
        _logger = logger;
        _socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _socket.Bind(endpoint);
            _socket.Listen(512);
        }
        catch (SocketException ex)
        {
            _socket.Dispose();
            throw new InvalidOperationException($"SmdSs:Listen {endpoint} cannot be bound: {ex.Message} (is another node listening there?)", ex);
        }

        LocalEndpoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    /// <summary>The bound endpoint (with the real port when port 0 was asked for).</summary>
    public IPEndPoint LocalEndpoint { get; }

    /// <summary>The most requests one connection had in flight at once so far (a figure for tests of the bound).</summary>
    internal int PeakRequestsInFlight => Volatile.Read(ref _peakInFlight);

    private int _peakInFlight;

    public void Start()
    {
        _acceptLoop = Task.Run(AcceptLoopAsync);
        _idleSweep = Task.Run(SweepIdleAsync);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _idleSweep.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Task[] open;
        lock (_connectionsLock)
        {
            open = [.. _connections];
        }

        await Task.WhenAll(open).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            string remote = client.RemoteEndPoint?.ToString() ?? "?";
            string address = (client.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "?";
            if (_limits.TryBeginHandshake(address) is { } refusal)
            {
                LogRefusal(remote, refusal);
                client.Dispose();
                continue;
            }

            Task connection = Task.Run(() => ServeAsync(client, remote, address));
            lock (_connectionsLock)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(connection);
            }
        }
    }

    private async Task ServeAsync(Socket client, string remote, string address)
    {
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        var served = new ServedConnection(closing, remote);
        var answers = new List<Task>();
        PeerIdentity? peer = null;
        NetworkStream? stream = null;
        FramePipe? pipe = null;
        try
        {
            try
            {
                PeerSockets.Configure(client);
                stream = new NetworkStream(client, ownsSocket: true);
                // Before the peer proves the secret it may send only handshake-sized frames.
                pipe = new FramePipe(PipeReader.Create(stream), PipeWriter.Create(stream), Handshake.MaxFrameBytes);
                peer = await AcceptHandshakeAsync(pipe, remote).ConfigureAwait(false);
            }
            finally
            {
                _limits.EndHandshake(address);
            }

            if (_limits.TryClaim(peer.Id, peer.Endpoint) is { } refusal)
            {
                peer = null;
                throw new ProtocolException(refusal);
            }

            pipe.MaxFrameBytes = _maxFrameBytes;
            _served[served] = 0;
            while (await pipe.ReadAsync(closing.Token).ConfigureAwait(false) is { } frame)
            {
                if (answers.Count > 64)
                {
                    answers.RemoveAll(t => t.IsCompleted);
                }

                bool busy = !served.TryBeginRequest(frame.Payload.Length);
                NotePeak(served.RequestsInFlight);

                // A request runs right here until its first wait (on replicas, or on a slow
                // reader), with no thread hop; then it finishes in the background. Only the bulk
                // messages, which do long work without waiting, go to the thread pool at once.
                Task answer = !busy && IsBulk(frame.Type)
                    ? Task.Run(() => AnswerAsync(pipe, frame, peer, served, busy))
                    : AnswerAsync(pipe, frame, peer, served, busy);
                if (!answer.IsCompleted)
                {
                    answers.Add(answer);
                }
            }
        }
        catch (ProtocolException ex)
        {
            LogRefusal(remote, ex.Message);
            if (pipe is not null)
            {
                await TrySendErrorAsync(pipe, ErrorCode.Refused, ex.Message).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer went away, stopped reading, was idle too long, or the node is stopping.
        }
        finally
        {
            // The node id is free as soon as its connection is: a node back at a new address is not kept out.
            if (peer is not null)
            {
                _limits.Release(peer.Id);
            }

            _served.TryRemove(served, out _);
            // Close first, then wait: answers stuck writing to a peer that stopped reading give up.
            await closing.CancelAsync().ConfigureAwait(false);
            client.Dispose();
            await Task.WhenAll(answers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (pipe is not null)
            {
                await pipe.DisposeAsync().ConfigureAwait(false);
            }

            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private void NotePeak(int count)
    {
        int peak;
        while (count > (peak = Volatile.Read(ref _peakInFlight)) && Interlocked.CompareExchange(ref _peakInFlight, count, peak) != peak)
        {
        }
    }

    /// <summary>Closes authenticated connections with nothing in flight and no frame for the idle timeout.</summary>
    private async Task SweepIdleAsync()
    {
        using var timer = new PeriodicTimer(IdleSweepInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                long now = Environment.TickCount64;
                foreach (ServedConnection connection in _served.Keys)
                {
                    if (connection.IsIdleSince(now - (long)SmdSsLimits.PeerConnectionIdleTimeout.TotalMilliseconds))
                    {
                        connection.Close();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void LogRefusal(string remote, string reason)
    {
        if (_refusalLog.TryTake(Environment.TickCount64, out long suppressed))
        {
            Log.ConnectionRefused(_logger, remote, reason);
            if (suppressed > 0)
            {
                Log.ConnectionRefusalsSuppressed(_logger, suppressed);
            }
        }
    }

    // Catch-up chunks and handoffs apply up to half a megabyte of records in one go; anti-entropy scans a slice;
    // a map function runs over a whole slice (app code, of any duration): inline, it would hold up every
    // request behind it on this connection, and a stopping node could not close the connection until it returned.
    private static bool IsBulk(MessageType type) =>
        type is MessageType.SnapshotBegin or MessageType.DeltaBegin or MessageType.SnapshotChunk or MessageType.SnapshotEnd or MessageType.Handoff or MessageType.Goodbye
            or MessageType.DigestRequest or MessageType.BucketVersions or MessageType.FetchRecords or MessageType.MapSlice;

    private async Task<PeerIdentity> AcceptHandshakeAsync(FramePipe pipe, string remote)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(Handshake.Timeout);
        try
        {
            Frame hello = await pipe.ReadAsync(timeout.Token).ConfigureAwait(false) ?? throw new ProtocolException("closed before the handshake");
            if (hello.Type != MessageType.Hello)
            {
                throw new ProtocolException($"expected Hello first, got message type {(byte)hello.Type}");
            }

            (NodeId client, string clientEndpoint, byte[] clientNonce) = Handshake.ReadHello(hello.Payload);
            if (client == _self)
            {
                throw new ProtocolException($"the peer at {remote} has this node's own id {_self}: two nodes share one node id (a copied data directory?)");
            }

            byte[] serverNonce = Handshake.NewNonce();
            byte[] challenge = Handshake.ChallengePayload(_self, serverNonce);
            await pipe.WriteAsync(MessageType.HelloChallenge, hello.RequestId, challenge, timeout.Token).ConfigureAwait(false);

            Frame proof = await pipe.ReadAsync(timeout.Token).ConfigureAwait(false) ?? throw new ProtocolException("closed during the handshake");
            int keyIndex = proof.Type == MessageType.HelloProof ? _handshake.MatchClientProof(hello.Payload, challenge, proof.Payload) : -1;
            if (keyIndex < 0)
            {
                throw new ProtocolException("wrong or missing cluster secret");
            }

            byte[] serverProof = _handshake.ServerProof(keyIndex, hello.Payload, challenge, proof.Payload);
            await pipe.WriteAsync(MessageType.HelloOk, proof.RequestId, serverProof, timeout.Token).ConfigureAwait(false);
            if (_handshake.Seals)
            {
                (FrameSealer receive, FrameSealer send) = _handshake.Sealers(keyIndex, clientNonce, serverNonce, hello.Payload, challenge);
                pipe.Seal(send, receive);
            }

            return new PeerIdentity(client, clientEndpoint, remote);
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            throw new ProtocolException("no handshake within " + Handshake.Timeout.TotalSeconds + " s");
        }
    }

    private async Task AnswerAsync(FramePipe pipe, Frame request, PeerIdentity peer, ServedConnection served, bool busy)
    {
        CancellationTokenSource closing = served.Closing;
        MessageType type;
        byte[] payload;
        bool refused = false;
        try
        {
            (type, payload) = busy
                ? (MessageType.Error, new ErrorReply(ErrorCode.Unavailable, $"busy: {SmdSsLimits.MaxRequestsInFlightPerConnection} requests or {SmdSsLimits.MaxRequestBytesInFlightPerConnection >> 20} MiB in flight on this connection").Encode())
                : await _handler.HandleAsync(request, peer, closing.Token).ConfigureAwait(false);
        }
        catch (PeerRefusedException ex)
        {
            // Nothing of it was applied; the peer that sent it is cut off.
            LogRefusal(served.Remote, ex.Message);
            (type, payload) = (MessageType.Error, new ErrorReply(ErrorCode.Refused, ex.Message).Encode());
            refused = true;
        }
        catch (ProtocolException ex)
        {
            (type, payload) = (MessageType.Error, new ErrorReply(ErrorCode.BadRequest, ex.Message).Encode());
        }
        catch (OperationCanceledException)
        {
            (type, payload) = (MessageType.Error, new ErrorReply(ErrorCode.Unavailable, "node stopping").Encode());
        }
        catch (SmdSsUnavailableException ex)
        {
            (type, payload) = (MessageType.Error, new ErrorReply(ErrorCode.Unavailable, ex.Message).Encode());
        }
#pragma warning disable CA1031 // A failing request must answer the peer, never kill the connection.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            (type, payload) = (MessageType.Error, new ErrorReply(ex is ArgumentException ? ErrorCode.BadRequest : ErrorCode.Internal, ex.Message).Encode());
        }
        finally
        {
            served.EndRequest(request.Payload.Length);
        }

        if (!served.TryQueueAnswer(payload.Length))
        {
            LogRefusal(served.Remote, $"the peer does not read its answers: more than {SmdSsLimits.MaxAnswerBytesPendingPerConnection >> 20} MiB of them wait");
            served.Close();
            return;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closing.Token);
            timeout.CancelAfter(WriteTimeout);
            await pipe.WriteAsync(type, request.RequestId, payload, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The peer is gone or stopped reading: close the connection; it will reconnect.
            served.Close();
        }
        finally
        {
            served.AnswerWritten(payload.Length);
        }

        if (refused)
        {
            served.Close();
        }
    }

    private static async Task TrySendErrorAsync(FramePipe pipe, ErrorCode code, string message)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await pipe.WriteAsync(MessageType.Error, 0, new ErrorReply(code, message).Encode(), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // Closing anyway.
        }
    }

    /// <summary>One authenticated connection: its bounds' counters, and what the idle sweep sees.</summary>
    private sealed class ServedConnection(CancellationTokenSource closing, string remote)
    {
        private long _lastActivityMs = Environment.TickCount64;
        private int _requests;
        private long _requestBytes;
        private long _answerBytes;
        private int _answers;

        public CancellationTokenSource Closing { get; } = closing;

        public string Remote { get; } = remote;

        public int RequestsInFlight => Volatile.Read(ref _requests);

        /// <summary>Counts a request in; false when it is over a bound (it is then answered "busy", and still counted until then).</summary>
        public bool TryBeginRequest(int bytes)
        {
            Touch();
            int requests = Interlocked.Increment(ref _requests);
            long requestBytes = Interlocked.Add(ref _requestBytes, bytes);
            return requests <= SmdSsLimits.MaxRequestsInFlightPerConnection
                && (requestBytes <= SmdSsLimits.MaxRequestBytesInFlightPerConnection || requests == 1);
        }

        public void EndRequest(int bytes)
        {
            Interlocked.Decrement(ref _requests);
            Interlocked.Add(ref _requestBytes, -bytes);
            Touch();
        }

        /// <summary>Counts an answer waiting to be written; false when the bytes waiting are over the bound.</summary>
        public bool TryQueueAnswer(int bytes)
        {
            int answers = Interlocked.Increment(ref _answers);
            long waiting = Interlocked.Add(ref _answerBytes, bytes);
            if (waiting <= SmdSsLimits.MaxAnswerBytesPendingPerConnection || answers == 1)
            {
                return true;
            }

            AnswerWritten(bytes);
            return false;
        }

        public void AnswerWritten(int bytes)
        {
            Interlocked.Decrement(ref _answers);
            Interlocked.Add(ref _answerBytes, -bytes);
            Touch();
        }

        public void Touch() => Volatile.Write(ref _lastActivityMs, Environment.TickCount64);

        public bool IsIdleSince(long cutoffMs) => Volatile.Read(ref _lastActivityMs) < cutoffMs && RequestsInFlight == 0;

        public void Close()
        {
            try
            {
                Closing.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Already closed and gone.
            }
        }
    }
}
