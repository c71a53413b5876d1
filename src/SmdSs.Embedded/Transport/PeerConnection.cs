using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Transport;

/// <summary>
/// One client connection to a peer: connect, handshake, then any number of requests in flight,
/// matched to responses by request id by a single read loop.
/// </summary>
internal sealed class PeerConnection : IAsyncDisposable
{
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<Frame>> _pending = new();
    private readonly Socket _socket;
    private readonly FramePipe _pipe;
    private readonly CancellationTokenSource _closed = new();
    private long _nextRequestId;
    private volatile string? _closeReason;
    private Task _readLoop = Task.CompletedTask;

    private PeerConnection(string endpoint, Socket socket, FramePipe pipe)
    {
        Endpoint = endpoint;
        _socket = socket;
        _pipe = pipe;
    }

    public string Endpoint { get; }

    public bool IsOpen => !_closed.IsCancellationRequested;

    public static async Task<PeerConnection> ConnectAsync(
        string endpoint, NodeId self, string selfEndpoint, Handshake handshake, int maxFrameBytes, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        PeerSockets.Configure(socket);
        try
        {
            await socket.ConnectAsync(Resolve(endpoint), cancellationToken).ConfigureAwait(false);
            var stream = new NetworkStream(socket, ownsSocket: false);
            var pipe = new FramePipe(PipeReader.Create(stream), PipeWriter.Create(stream), Handshake.MaxFrameBytes);
            var connection = new PeerConnection(endpoint, socket, pipe);
            await connection.HandshakeAsync(self, selfEndpoint, handshake, cancellationToken).ConfigureAwait(false);
            pipe.MaxFrameBytes = maxFrameBytes;
            connection._readLoop = Task.Run(connection.ReadLoopAsync, CancellationToken.None);
            return connection;
        }
        catch (Exception ex) when (ex is SocketException or IOException or ProtocolException or OperationCanceledException)
        {
            socket.Dispose();
            throw new PeerUnavailableException(endpoint, ex.Message, ex);
        }
    }

    public async Task<Frame> SendAsync(MessageType type, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ulong id = (ulong)Interlocked.Increment(ref _nextRequestId);
        var response = new TaskCompletionSource<Frame>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = response;
        try
        {
            if (!IsOpen)
            {
                throw new PeerUnavailableException(Endpoint, "connection closed");
            }

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            bool written = false;
            try
            {
                await _pipe.WriteAsync(type, id, payload, deadline.Token).ConfigureAwait(false);
                written = true;
                return await response.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                if (!written)
                {
                    // Part of a frame may be on the wire: this connection cannot be used again.
                    await CloseAsync().ConfigureAwait(false);
                }

                throw new PeerUnavailableException(Endpoint, $"no answer within {timeout.TotalMilliseconds:0} ms", ex);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            await CloseAsync().ConfigureAwait(false);
            throw new PeerUnavailableException(Endpoint, ex.Message, ex);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        await _readLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task HandshakeAsync(NodeId self, string selfEndpoint, Handshake handshake, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Handshake.Timeout);
        byte[] clientNonce = Handshake.NewNonce();
        byte[] hello = Handshake.HelloPayload(self, selfEndpoint, clientNonce);
        await _pipe.WriteAsync(MessageType.Hello, 0, hello, timeout.Token).ConfigureAwait(false);

        Frame challenge = await ReadHandshakeFrameAsync(MessageType.HelloChallenge, timeout.Token).ConfigureAwait(false);
        (_, byte[] serverNonce) = Handshake.ReadChallenge(challenge.Payload);

        byte[] proof = handshake.ClientProof(hello, challenge.Payload);
        await _pipe.WriteAsync(MessageType.HelloProof, 0, proof, timeout.Token).ConfigureAwait(false);
        Frame ok = await ReadHandshakeFrameAsync(MessageType.HelloOk, timeout.Token).ConfigureAwait(false);
        if (!handshake.ServerProofMatches(hello, challenge.Payload, proof, ok.Payload))
        {
            throw new ProtocolException("the server's cluster-secret proof is wrong");
        }

        if (handshake.Seals)
        {
            (FrameSealer send, FrameSealer receive) = handshake.Sealers(0, clientNonce, serverNonce, hello, challenge.Payload);
            _pipe.Seal(send, receive);
        }
    }

    private async Task<Frame> ReadHandshakeFrameAsync(MessageType expected, CancellationToken cancellationToken)
    {
        Frame frame = await _pipe.ReadAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new ProtocolException("the peer closed the connection during the handshake");
        if (frame.Type == MessageType.Error)
        {
            throw new ProtocolException("refused: " + ErrorReply.Read(frame.Payload).Message);
        }

        return frame.Type == expected ? frame : throw new ProtocolException($"expected {expected}, got {frame.Type}");
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (await _pipe.ReadAsync(_closed.Token).ConfigureAwait(false) is { } frame)
            {
                if (frame.RequestId == 0 && frame.Type == MessageType.Error)
                {
                    // The server's last word on the connection (no request of ours has id 0).
                    _closeReason = "refused: " + ErrorReply.Read(frame.Payload).Message;
                    break;
                }

                if (_pending.TryRemove(frame.RequestId, out TaskCompletionSource<Frame>? waiter))
                {
                    waiter.TrySetResult(frame);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ProtocolException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is gone; the pending requests fail below.
        }

        await CloseAsync().ConfigureAwait(false);
        // Nothing reads any more and no new write starts (closed): release the pipe and its sealers.
        await _pipe.DisposeAsync().ConfigureAwait(false);
    }

    private async Task CloseAsync()
    {
        if (_closed.IsCancellationRequested)
        {
            return;
        }

        await _closed.CancelAsync().ConfigureAwait(false);
        foreach (TaskCompletionSource<Frame> waiter in _pending.Values)
        {
            waiter.TrySetException(new PeerUnavailableException(Endpoint, _closeReason ?? "connection closed"));
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the peer.
        }

        _socket.Dispose();
    }

    internal static EndPoint Resolve(string endpoint) =>
        NodeEndpoint.TryParseFriend(endpoint, out EndPoint parsed) ? parsed : throw new PeerUnavailableException(endpoint, "not a host:port endpoint");
}
