using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using SmdSs.Protocol;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// What sealing adds to one frame, on one core, with no network: a frame written and read back in
/// clear (FrameCodec) against sealed and opened (FrameSealer, AES-GCM). Explains the sealed and
/// in-clear rows of the cluster report; also run alone with <c>--frame-cost</c>.
/// </summary>
internal static class FrameCost
{
    public const string Flag = "--frame-cost";
    private const int Frames = 200_000;

    public static string Measure(int payloadBytes)
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        using var send = new FrameSealer(key);
        using var receive = new FrameSealer(key);
        byte[] payload = RandomNumberGenerator.GetBytes(payloadBytes);
        var writer = new ArrayBufferWriter<byte>(payloadBytes + 64);
        double clear = MicrosecondsPerFrame(() =>
        {
            writer.ResetWrittenCount();
            FrameCodec.Write(writer, MessageType.Set, 1, payload);
            var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);
            FrameCodec.TryRead(ref buffer, 1 << 24, out _);
        });
        double sealedFrame = MicrosecondsPerFrame(() =>
        {
            writer.ResetWrittenCount();
            send.Write(writer, MessageType.Set, 1, payload);
            var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);
            receive.TryRead(ref buffer, 1 << 24, out _);
        });
        return string.Create(CultureInfo.InvariantCulture,
            $"Frame cost on one core, written and read back with a {payloadBytes:N0} B payload: in clear {clear:0.00} µs, sealed {sealedFrame:0.00} µs (+{sealedFrame - clear:0.00} µs a frame)");
    }

    private static double MicrosecondsPerFrame(Action frame)
    {
        for (int i = 0; i < Frames / 10; i++)
        {
            frame();
        }

        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < Frames; i++)
        {
            frame();
        }

        return Stopwatch.GetElapsedTime(started).TotalMicroseconds / Frames;
    }
}
