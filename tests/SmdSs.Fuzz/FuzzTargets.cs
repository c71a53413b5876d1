using System.Buffers;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Storage;
using SmdSs.Transport;

namespace SmdSs.Fuzz;

/// <summary>
/// Every parser of bytes from outside, as one fuzz target: the input's first byte picks the
/// parser, the rest is its input. A parser may refuse its input only with the exception its
/// contract documents (<see cref="ProtocolException"/>; the slice-file reader reports damage and
/// throws nothing); anything else escapes and is a crash the fuzzer keeps.
/// </summary>
internal static class FuzzTargets
{
    private const int MaxFrameBytes = 1 << 20;
    private static readonly byte[] Key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];
    private static readonly Handshake Secured = new(Convert.ToBase64String(Key), ["another-accepted-secret-0123"]);

    private static readonly Func<byte[], object?>[] Decoders =
    [
        p => Messages.DecodeSyncDigest(p),
        p => Messages.DecodeSyncSummary(p),
        p => Messages.DecodeSyncDelta(p),
        p => Messages.DecodeSliceRecords(p),
        p => Messages.DecodeCatchUp(p),
        p => Messages.DecodeSliceQuery(p),
        p => Messages.DecodeDigests(p),
        p => Messages.DecodeForwarded(p),
        p => Messages.DecodeNode(p),
        p => Messages.DecodeStarts(p),
        p => Messages.DecodeNodeStats(p),
        p => ComputeMessages.DecodeAtomic(p),
        p => ComputeMessages.DecodeMapSlice(p),
        p => ComputeMessages.DecodeClaim(p),
        p => ErrorReply.Read(p),
        p => Messages.DecodeRefusedTouches(p),
    ];

    public const int Count = 5;

    /// <summary>Runs the parser the input picks; false when it refused the input (as documented).</summary>
    public static bool Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return true;
        }

        ReadOnlySpan<byte> data = input[1..];
        try
        {
            switch (input[0] % Count)
            {
                case 0:
                    Frames(data);
                    break;
                case 1:
                    SealedBody(data);
                    break;
                case 2:
                    Decode(data);
                    break;
                case 3:
                    Handshakes(data);
                    break;
                default:
                    SliceFile(data);
                    break;
            }
        }
        catch (ProtocolException)
        {
            // The documented refusal.
            return false;
        }

        return true;
    }

    /// <summary>Clear frames, as a listener reads them before and without a secret.</summary>
    private static void Frames(ReadOnlySpan<byte> data)
    {
        var buffer = new ReadOnlySequence<byte>(data.ToArray());
        while (FrameCodec.TryRead(ref buffer, MaxFrameBytes, out Frame frame))
        {
            _ = frame.Payload.Length;
        }
    }

    /// <summary>
    /// Any body (version, type, request id, payload), sealed by one end and opened by the other:
    /// what a peer holding the secret can make a node decode.
    /// </summary>
    private static void SealedBody(ReadOnlySpan<byte> data)
    {
        using var send = new FrameSealer(Key);
        using var receive = new FrameSealer(Key);
        var wire = new ArrayBufferWriter<byte>();
        send.WriteBody(wire, data);
        var buffer = new ReadOnlySequence<byte>(wire.WrittenMemory);
        receive.TryRead(ref buffer, MaxFrameBytes, out _);
    }

    private static void Decode(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        Decoders[data[0] % Decoders.Length](data[1..].ToArray());
    }

    /// <summary>
    /// Both sides' parsing of the handshake, and the proofs over what was parsed: the first byte
    /// is the Hello's length, then the Hello, the HelloChallenge (24 bytes) and a proof.
    /// </summary>
    private static void Handshakes(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        int helloLength = Math.Min(data[0], data.Length - 1);
        ReadOnlySpan<byte> hello = data.Slice(1, helloLength);
        ReadOnlySpan<byte> rest = data[(1 + helloLength)..];
        ReadOnlySpan<byte> challenge = rest[..Math.Min(rest.Length, 8 + Handshake.NonceBytes)];
        ReadOnlySpan<byte> proof = rest[challenge.Length..];
        (NodeId client, string endpoint, byte[] nonce) = Handshake.ReadHello(hello);
        _ = (client, endpoint.Length, nonce.Length);
        (NodeId server, byte[] serverNonce) = Handshake.ReadChallenge(challenge);
        _ = (server, serverNonce.Length);
        if (Secured.MatchClientProof(hello, challenge, proof) >= 0)
        {
            throw new InvalidOperationException("a fuzzed proof matched the cluster secret");
        }

        _ = Secured.ServerProofMatches(hello, challenge, proof, proof);
    }

    /// <summary>A slice file of any content: damage is skipped and reported, never thrown.</summary>
    private static void SliceFile(ReadOnlySpan<byte> data)
    {
        using var file = new MemoryStream(data.ToArray(), writable: false);
        SliceFileReader.Replay(file, MaxFrameBytes, (record, offset, length) => _ = (record.Key.Length, offset, length));
    }
}
