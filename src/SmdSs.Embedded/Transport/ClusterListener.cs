using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SmdSs.Diagnostics;
using SmdSs.Membership;
using SmdSs.Protocol;

namespace SmdSs.Transport;

/// <summary>
/// The node's TCP listener: many connections, each authenticated by the handshake before any
/// other frame is read, then serving requests concurrently (responses in any order, matched by
/// request id). A connection that breaks the protocol is closed with a logged reason; the
/// listener and every other connection carry on.
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
    private readonly List<Task> _connections = [];
    private readonly Lock _connectionsLock = new();
    private Task _acceptLoop = Task.CompletedTask;

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

    public void Start() => _acceptLoop = Task.Run(AcceptLoopAsync);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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

            client.NoDelay = true;
            Task connection = Task.Run(() => ServeAsync(client));
            lock (_connectionsLock)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(connection);
            }
        }
    }

    private async Task ServeAsync(Socket client)
    {
        string remote = client.RemoteEndPoint?.ToString() ?? "?";
        var stream = new NetworkStream(client, ownsSocket: true);
        // Before the peer proves the secret it may send only handshake-sized frames.
        var pipe = new FramePipe(PipeReader.Create(stream), PipeWriter.Create(stream), Handshake.MaxFrameBytes);
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        var inFlight = new List<Task>();
        try
        {
            PeerIdentity peer = await AcceptHandshakeAsync(pipe, remote).ConfigureAwait(false);
            pipe.MaxFrameBytes = _maxFrameBytes;
            while (await pipe.ReadAsync(closing.Token).ConfigureAwait(false) is { } frame)
            {
                if (inFlight.Count > 64)
                {
                    inFlight.RemoveAll(t => t.IsCompleted);
                }

                // A request runs right here until its first wait (on replicas, or on a slow
                // reader), with no thread hop; then it finishes in the background. Only the bulk
                // messages, which do long work without waiting, go to the thread pool at once.
                Task answer = IsBulk(frame.Type) ? Task.Run(() => AnswerAsync(pipe, frame, peer, closing)) : AnswerAsync(pipe, frame, peer, closing);
                if (!answer.IsCompleted)
                {
                    inFlight.Add(answer);
                }
            }
        }
        catch (ProtocolException ex)
        {
            Log.ConnectionRefused(_logger, remote, ex.Message);
            await TrySendErrorAsync(pipe, ErrorCode.Refused, ex.Message).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer went away, stopped reading, or the node is stopping.
        }
        finally
        {
            // Close first, then wait: answers stuck writing to a peer that stopped reading give up.
            await closing.CancelAsync().ConfigureAwait(false);
            client.Dispose();
            await Task.WhenAll(inFlight).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await pipe.DisposeAsync().ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
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

            var reader = new MessageReader(hello.Payload);
            var client = new NodeId(reader.U64());
            string clientEndpoint = reader.String();
            byte[] clientNonce = reader.BytesFixed(Handshake.NonceBytes);
            reader.ExpectEnd();
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

    private async Task AnswerAsync(FramePipe pipe, Frame request, PeerIdentity peer, CancellationTokenSource closing)
    {
        MessageType type;
        byte[] payload;
        try
        {
            (type, payload) = await _handler.HandleAsync(request, peer, closing.Token).ConfigureAwait(false);
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

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closing.Token);
            timeout.CancelAfter(WriteTimeout);
            await pipe.WriteAsync(type, request.RequestId, payload, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The peer is gone or stopped reading: close the connection; it will reconnect.
            await closing.CancelAsync().ConfigureAwait(false);
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
}
