using System.Runtime.InteropServices;

namespace SmdSs.Diagnostics;

/// <summary>
/// Counts the reads and writes this node's API served, for its stats (the dashboard's ops/s).
/// It sits on the local read path, which costs a hash, a binary search and a dictionary lookup,
/// so one shared <see cref="Interlocked"/> field would be the most expensive part of a read under
/// contention (every core bouncing one cache line). Instead each core adds to its own cell, on
/// its own cache line, and a reader sums the cells — the LongAdder pattern. The total is exact;
/// a sum taken while adds run may miss those still in flight.
/// </summary>
internal sealed class OperationCounter
{
    private const int MaxStripes = 64;
    private readonly Cell[] _cells;
    private readonly int _mask;

    public OperationCounter()
    {
        int stripes = (int)Math.Min(MaxStripes, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount));
        _cells = new Cell[stripes];
        _mask = stripes - 1;
    }

    /// <summary>Adds one. Threads on the same core rarely collide; the interlocked add keeps a collision exact.</summary>
    public void Increment() => Interlocked.Increment(ref _cells[Thread.GetCurrentProcessorId() & _mask].Value);

    /// <summary>Every operation counted so far.</summary>
    public long Total
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _cells.Length; i++)
            {
                sum += Volatile.Read(ref _cells[i].Value);
            }

            return sum;
        }
    }

    /// <summary>One counter alone on a 128-byte span (two cache lines: adjacent-line prefetch pairs them).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Cell
    {
        [FieldOffset(64)]
        public long Value;
    }
}
