using System.Buffers.Binary;
using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// Replays a slice file from its start: every valid record in file order, and every damaged run
/// of bytes between them. Damage never stops the replay: after a bad record the reader scans
/// forward to the next magic, so one torn or corrupted record costs only itself.
/// </summary>
internal static class SliceFileReader
{
    private const int ChunkBytes = 1 << 20;

    public delegate void RecordVisitor(StorageRecord record, long offset, int length);

    public static List<ReplayDamage> Replay(Stream file, int maxBodyBytes, RecordVisitor visit)
    {
        var damage = new List<ReplayDamage>();
        // A small file gets a buffer of its size (a node opens one file per slice at start).
        byte[] buffer = new byte[file.CanSeek ? (int)Math.Clamp(file.Length - file.Position + 1, RecordCodec.HeaderBytes, ChunkBytes) : ChunkBytes];
        int start = 0;
        int end = 0;
        long bufferOffset = 0; // file offset of buffer[0]
        long damageStart = -1;
        bool eof = false;

        while (true)
        {
            if (start == end && eof)
            {
                CloseDamage(damage, ref damageStart, bufferOffset + end, atTail: true);
                break;
            }

            StorageRecord? record = null;
            int consumed = 0;
            DecodeStatus status = start < end
                ? RecordCodec.TryDecode(buffer.AsSpan(start, end - start), maxBodyBytes, out record, out consumed)
                : DecodeStatus.NeedMore;
            if (status == DecodeStatus.Ok)
            {
                CloseDamage(damage, ref damageStart, bufferOffset + start, atTail: false);
                visit(record!, bufferOffset + start, consumed);
                start += consumed;
                continue;
            }

            if (status == DecodeStatus.NeedMore)
            {
                if (!eof)
                {
                    eof = Fill(file, ref buffer, ref start, ref end, ref bufferOffset, HeaderNeed(buffer, start, end, maxBodyBytes));
                    continue;
                }

                if (RecordCodec.FindNextMagic(buffer.AsSpan(start, end - start)) < 0)
                {
                    // The file ends inside a record: a torn tail.
                    damageStart = damageStart < 0 ? bufferOffset + start : damageStart;
                    CloseDamage(damage, ref damageStart, bufferOffset + end, atTail: true);
                    break;
                }

                // A record follows: this one's length field is damaged, not the file's tail.
            }

            damageStart = damageStart < 0 ? bufferOffset + start : damageStart;
            int claimedEnd = ClaimedEnd(buffer, start, end, maxBodyBytes);
            if (claimedEnd > start)
            {
                // The header is sane and a record starts where it says this one ends (the body
                // was damaged): resume there, so bytes inside the damaged value are never parsed.
                start = claimedEnd;
                continue;
            }

            int next = RecordCodec.FindNextMagic(buffer.AsSpan(start, end - start));
            if (next > 0)
            {
                start += next;
                continue;
            }

            // No magic in the rest of the buffer; keep a possible partial magic at its end.
            int keep = Math.Min(end - start - 1, RecordCodec.Magic.Length - 1);
            start = end - Math.Max(keep, 0);
            if (eof)
            {
                CloseDamage(damage, ref damageStart, bufferOffset + end, atTail: true);
                break;
            }

            eof = Fill(file, ref buffer, ref start, ref end, ref bufferOffset, 0);
        }

        return damage;
    }

    private static void CloseDamage(List<ReplayDamage> damage, ref long damageStart, long at, bool atTail)
    {
        if (damageStart >= 0 && at > damageStart)
        {
            damage.Add(new ReplayDamage(damageStart, at - damageStart, atTail));
        }

        damageStart = -1;
    }

    // Where the record at `start` ends by its own header, when that header is plausible and the
    // bytes there begin another record (or the end of the data); else -1.
    private static int ClaimedEnd(byte[] buffer, int start, int end, int maxBodyBytes)
    {
        if (end - start < RecordCodec.HeaderBytes || !buffer.AsSpan(start, RecordCodec.Magic.Length).SequenceEqual(RecordCodec.Magic))
        {
            return -1;
        }

        uint body = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(start + 4));
        if (body < RecordCodec.FixedBodyBytes || body > (uint)maxBodyBytes || start + RecordCodec.HeaderBytes + (long)body > end)
        {
            return -1;
        }

        int claimed = start + RecordCodec.HeaderBytes + (int)body;
        if (claimed == end)
        {
            return claimed;
        }

        DecodeStatus next = RecordCodec.TryDecode(buffer.AsSpan(claimed, end - claimed), maxBodyBytes, out _, out _);
        return next == DecodeStatus.Corrupt ? -1 : claimed;
    }

    // How many bytes the record at `start` needs in total, when its header says so plausibly.
    private static int HeaderNeed(byte[] buffer, int start, int end, int maxBodyBytes)
    {
        if (end - start < RecordCodec.HeaderBytes)
        {
            return RecordCodec.HeaderBytes;
        }

        uint body = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(start + 4));
        return body <= (uint)maxBodyBytes ? RecordCodec.HeaderBytes + (int)body : RecordCodec.HeaderBytes;
    }

    /// <summary>Moves the unread bytes to the front, grows the buffer if one record needs it, reads more. True at end of file.</summary>
    private static bool Fill(Stream file, ref byte[] buffer, ref int start, ref int end, ref long bufferOffset, int need)
    {
        int unread = end - start;
        if (start > 0)
        {
            Buffer.BlockCopy(buffer, start, buffer, 0, unread);
            bufferOffset += start;
            start = 0;
            end = unread;
        }

        if (need > buffer.Length)
        {
            Array.Resize(ref buffer, need);
        }

        int read = file.Read(buffer, end, buffer.Length - end);
        end += read;
        return read == 0;
    }
}
