using System.Buffers;
using System.IO.Pipelines;
using SmdSs.Protocol;

namespace SmdSs.Transport;

/// <summary>
/// Reads and writes frames over a duplex pipe; writes are serialised, reads belong to one loop.
/// In clear until <see cref="Seal"/>, sealed from then on in both directions.
/// </summary>
internal sealed class FramePipe(PipeReader reader, PipeWriter writer, int maxFrameBytes) : IAsyncDisposable
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private FrameSealer? _sendSealer;
    private FrameSealer? _receiveSealer;

    /// <summary>The largest frame accepted; small until the handshake has authenticated the peer.</summary>
    public int MaxFrameBytes { get; set; } = maxFrameBytes;

    /// <summary>Every frame written and read from now on is sealed; call between frames, with no write in flight.</summary>
    public void Seal(FrameSealer send, FrameSealer receive)
    {
        _sendSealer = send;
        _receiveSealer = receive;
    }

    /// <summary>The next frame, or null when the peer closed the connection cleanly.</summary>
    /// <exception cref="ProtocolException">Malformed or oversized frame, unknown version, or a torn frame at close.</exception>
    public async ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool read = _receiveSealer is { } sealer
                ? sealer.TryRead(ref buffer, MaxFrameBytes, out Frame frame)
                : FrameCodec.TryRead(ref buffer, MaxFrameBytes, out frame);
            if (read)
            {
                // Only what was consumed is examined: a second frame already buffered is read next without waiting.
                reader.AdvanceTo(buffer.Start);
                return frame;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return buffer.IsEmpty ? null : throw new ProtocolException($"connection closed inside a frame ({buffer.Length} bytes)");
            }
        }
    }

    public async ValueTask WriteAsync(MessageType type, ulong requestId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_sendSealer is { } sealer)
            {
                sealer.Write(writer, type, requestId, payload.Span);
            }
            else
            {
                FrameCodec.Write(writer, type, requestId, payload.Span);
            }

            // A peer that stops reading must not hold this write (and the lock) forever: the
            // token gives up, and the caller closes the connection.
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await reader.CompleteAsync().ConfigureAwait(false);
        await writer.CompleteAsync().ConfigureAwait(false);
        // A read loop has ended before this; a write may still hold the lock until its socket fails.
        _receiveSealer?.Dispose();
        if (await _writeLock.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false))
        {
            _sendSealer?.Dispose();
            _writeLock.Release();
        }
    }
}
