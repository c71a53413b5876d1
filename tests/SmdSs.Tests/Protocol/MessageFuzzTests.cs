using System.Buffers.Binary;
using SmdSs.Protocol;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// A small seeded fuzz of every payload decoder: random byte arrays and random mutations of valid
/// payloads. Decoding may succeed or throw <see cref="ProtocolException"/>; anything else
/// (IndexOutOfRange, OutOfMemory, Argument…, Overflow, InvalidOperation) would escape the
/// listener's handling of bad input.
/// </summary>
public sealed class MessageFuzzTests
{
    private const int RandomInputs = 2000;
    private const int Mutations = 2000;

    public static TheoryData<string> DecoderNames => Decoders.Names();

    [Theory]
    [MemberData(nameof(DecoderNames))]
    public void Random_bytes_only_ever_throw_ProtocolException(string decoder)
    {
        Func<byte[], byte[]> decode = Decoders.All[decoder].Decode;
        var random = new Random(HashOf(decoder));
        var failures = new List<string>();
        for (int i = 0; i < RandomInputs; i++)
        {
            byte[] input = new byte[random.Next(0, 160)];
            random.NextBytes(input);
            if (i % 2 == 0)
            {
                // Small counts and lengths at the front, so decoding gets past the first field more often.
                for (int at = 0; at + 4 <= input.Length && at < 24; at += 4)
                {
                    if (random.Next(3) == 0)
                    {
                        BinaryPrimitives.WriteUInt32LittleEndian(input.AsSpan(at), (uint)random.Next(0, 4));
                    }
                }
            }

            Check(decoder, decode, input, failures);
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(10)));
    }

    [Theory]
    [MemberData(nameof(DecoderNames))]
    public void Mutations_of_a_valid_payload_only_ever_throw_ProtocolException(string decoder)
    {
        (byte[] valid, Func<byte[], byte[]> decode) = Decoders.All[decoder];
        var random = new Random(HashOf(decoder) ^ 0x5EED);
        var failures = new List<string>();
        for (int i = 0; i < Mutations; i++)
        {
            byte[] input = Mutate(valid, random);
            Check(decoder, decode, input, failures);
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(10)));
    }

    private static void Check(string decoder, Func<byte[], byte[]> decode, byte[] input, List<string> failures)
    {
        try
        {
            decode(input);
        }
        catch (ProtocolException)
        {
            // The one allowed failure.
        }
#pragma warning disable CA1031 // Any other exception is the finding.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failures.Add($"{decoder}({Convert.ToHexString(input)}): {ex.GetType().Name}: {ex.Message}");
        }
    }

    private static byte[] Mutate(byte[] valid, Random random)
    {
        var bytes = new List<byte>(valid);
        int operations = random.Next(1, 4);
        for (int op = 0; op < operations; op++)
        {
            int at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(8))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 2 when bytes.Count >= 4:
                {
                    // Overwrite a 32-bit field (a count, a length) with something extreme.
                    at = random.Next(bytes.Count - 3);
                    uint[] extremes = [0, 1, 2, 0x7F, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, (uint)random.Next()];
                    uint value = extremes[random.Next(extremes.Length)];
                    for (int b = 0; b < 4; b++)
                    {
                        bytes[at + b] = (byte)(value >> (8 * b));
                    }

                    break;
                }

                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 4:
                {
                    byte[] extra = new byte[random.Next(1, 9)];
                    random.NextBytes(extra);
                    bytes.InsertRange(at, extra);
                    break;
                }

                case 5 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, random.Next(1, 9)));
                    break;
                case 6 when bytes.Count > 0:
                {
                    // Duplicate a region (a list item appearing twice, a count off by one).
                    int length = Math.Min(bytes.Count - at, random.Next(1, 40));
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                }

                default:
                    if (bytes.Count > 0)
                    {
                        bytes[at] = random.Next(2) == 0 ? (byte)0xFF : (byte)0x00;
                    }

                    break;
            }
        }

        return [.. bytes];
    }

    private static int HashOf(string text)
    {
        // Stable across runs (string.GetHashCode is randomised per process).
        int hash = 17;
        foreach (char c in text)
        {
            hash = unchecked((hash * 31) + c);
        }

        return hash;
    }
}
