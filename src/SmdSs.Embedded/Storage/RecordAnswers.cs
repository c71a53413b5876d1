using System.Buffers.Binary;
using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// The answers block of a v2 slice-file record: the answers of the atomic operations whose
/// effect the record's value holds (see <c>Compute.RecentOperations</c>). Kept in the record
/// itself, under its CRC, so that a node restarted within a caller's retry window still knows
/// that the operation was applied: the value and the proof of it are written, or torn, together.
/// </summary>
/// <remarks>
/// FORMAT: <c>u16 count</c>, then per answer <c>u64 operation id | u32 key hash | u32 length | answer</c>.
/// </remarks>
internal static class RecordAnswers
{
    /// <summary>
    /// The most answer bytes one record carries. The newest answers are kept first; older ones
    /// beyond this (only processors reply with more than a few bytes) stay in memory only.
    /// </summary>
    public const int MaxBytes = 64 << 10;

    private const int PerAnswerBytes = 16;

    /// <summary>
    /// <paramref name="record"/> carrying those of <paramref name="answers"/> that are about its
    /// key (by key hash; a message may carry the answers of several keys), as many as fit.
    /// </summary>
    public static StorageRecord Attach(StorageRecord record, IReadOnlyList<OperationAnswer>? answers)
    {
        if (answers is null or { Count: 0 } || record.Kind == RecordKind.Touch)
        {
            return record;
        }

        uint hash = Hashing.KeyHash.Of(record.Key);
        List<OperationAnswer> own = [.. answers.Where(a => a.KeyHash == hash)];
        return own.Count == 0 ? record : record with { Answers = Fitting(own) };
    }

    /// <summary>The answers that fit in <see cref="MaxBytes"/>, newest first kept.</summary>
    public static IReadOnlyList<OperationAnswer> Fitting(IReadOnlyList<OperationAnswer> answers)
    {
        int bytes = 2;
        int fit = 0;
        for (int i = answers.Count - 1; i >= 0 && fit < ushort.MaxValue; i--)
        {
            bytes += PerAnswerBytes + answers[i].Answer.Length;
            if (bytes > MaxBytes)
            {
                break;
            }

            fit++;
        }

        return fit == answers.Count ? answers : [.. answers.Skip(answers.Count - fit)];
    }

    /// <summary>The encoded length of <paramref name="answers"/> (which must fit).</summary>
    public static int Length(IReadOnlyList<OperationAnswer> answers)
    {
        int bytes = 2;
        foreach (OperationAnswer answer in answers)
        {
            bytes += PerAnswerBytes + answer.Answer.Length;
        }

        return bytes;
    }

    public static void Write(Span<byte> destination, IReadOnlyList<OperationAnswer> answers)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, checked((ushort)answers.Count));
        int at = 2;
        foreach (OperationAnswer answer in answers)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[at..], answer.Id);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(at + 8)..], answer.KeyHash);
            BinaryPrimitives.WriteInt32LittleEndian(destination[(at + 12)..], answer.Answer.Length);
            answer.Answer.CopyTo(destination[(at + PerAnswerBytes)..]);
            at += PerAnswerBytes + answer.Answer.Length;
        }
    }

    /// <summary>Reads a whole answers block; null when it is malformed or has bytes left over.</summary>
    public static OperationAnswer[]? Read(ReadOnlySpan<byte> block)
    {
        if (block.Length < 2)
        {
            return null;
        }

        var answers = new OperationAnswer[BinaryPrimitives.ReadUInt16LittleEndian(block)];
        int at = 2;
        for (int i = 0; i < answers.Length; i++)
        {
            if (block.Length - at < PerAnswerBytes)
            {
                return null;
            }

            int length = BinaryPrimitives.ReadInt32LittleEndian(block[(at + 12)..]);
            if (length < 0 || length > block.Length - at - PerAnswerBytes)
            {
                return null;
            }

            answers[i] = new OperationAnswer(
                BinaryPrimitives.ReadUInt64LittleEndian(block[at..]),
                BinaryPrimitives.ReadUInt32LittleEndian(block[(at + 8)..]),
                block.Slice(at + PerAnswerBytes, length).ToArray());
            at += PerAnswerBytes + length;
        }

        return at == block.Length ? answers : null;
    }
}
