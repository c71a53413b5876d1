using System.Text;

namespace SmdSs.Tests.Consistency;

/// <summary>What the search found: an order that explains every result, none, or it gave up.</summary>
public enum Linearizability
{
    Linearizable,
    NotLinearizable,
    Inconclusive,
}

/// <summary>The checker's verdict on one key's history, with an explanation for a failure message.</summary>
public sealed record LinearizabilityResult(Linearizability Verdict, string Explanation)
{
    public bool IsLinearizable => Verdict == Linearizability.Linearizable;
}

/// <summary>
/// Decides whether one key's history is linearizable against a register (read, write, remove,
/// compare-and-swap, get-or-add): whether some total order of its operations, each placed between its
/// invocation and its completion, explains every result. The search is Wing and Gong's, with
/// Lowe's memo of (operations placed, register value) as in Knossos and Porcupine: walk the
/// invocations and completions in time order; at an invocation, try placing that operation now;
/// at a completion of an operation not yet placed, undo the last placement and try the next one.
/// An operation in doubt (failed or timed out) completes at infinity: it may be placed anywhere
/// after its invocation, including after everything (which is how "it never happened" is
/// explained); a read in doubt says nothing and is dropped.
/// </summary>
public static class LinearizabilityChecker
{
    /// <summary>Placements tried before the search gives up (Inconclusive) rather than run for minutes.</summary>
    public const long DefaultStepLimit = 20_000_000;

    public static LinearizabilityResult CheckRegister(IReadOnlyList<RegisterOperation> history, string? initial = null, long stepLimit = DefaultStepLimit)
    {
        RegisterOperation[] ops = [.. history.Where(o => !(o.InDoubt && o.Kind == RegisterOperationKind.Read))];
        Entry head = BuildEntries(ops);
        var placed = new BitSet(ops.Length);
        var memo = new HashSet<(BitSet, string?)>();
        var stack = new Stack<(Entry Call, string? State)>();
        string? state = initial;
        Entry? entry = head.Next;
        int bestPlaced = 0;
        RegisterOperation? stuckAt = null;
        long steps = 0;
        while (head.Next is not null)
        {
            if (++steps > stepLimit)
            {
                return new LinearizabilityResult(Linearizability.Inconclusive, $"gave up after {stepLimit:N0} steps over {ops.Length} operations");
            }

            if (entry!.IsCall)
            {
                RegisterOperation op = ops[entry.Op];
                (bool ok, string? next) = Step(state, op);
                if (ok)
                {
                    BitSet after = placed.With(entry.Op);
                    if (memo.Add((after, next)))
                    {
                        stack.Push((entry, state));
                        state = next;
                        placed = after;
                        Lift(entry);
                        entry = head.Next;
                        continue;
                    }
                }

                entry = entry.Next;
                continue;
            }

            // The completion of an operation not placed yet: everything placed so far cannot be.
            if (stack.Count >= bestPlaced)
            {
                bestPlaced = stack.Count;
                stuckAt = ops[entry.Op];
            }

            if (stack.Count == 0)
            {
                return new LinearizabilityResult(Linearizability.NotLinearizable, Explain(ops, bestPlaced, stuckAt));
            }

            (Entry call, string? before) = stack.Pop();
            state = before;
            placed = placed.Without(call.Op);
            Unlift(call);
            entry = call.Next;
        }

        return new LinearizabilityResult(Linearizability.Linearizable, $"{ops.Length} operations linearizable");
    }

    /// <summary>Splits a history of many keys and checks each; the first key that fails is the verdict.</summary>
    public static (string? Key, LinearizabilityResult Result) CheckRegisters(IEnumerable<(string Key, RegisterOperation Operation)> history)
    {
        foreach (IGrouping<string, (string Key, RegisterOperation Operation)> key in history.GroupBy(h => h.Key, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            LinearizabilityResult result = CheckRegister([.. key.Select(h => h.Operation)]);
            if (!result.IsLinearizable)
            {
                return (key.Key, result);
            }
        }

        return (null, new LinearizabilityResult(Linearizability.Linearizable, "every key linearizable"));
    }

    private static (bool Ok, string? Next) Step(string? state, RegisterOperation op) => op.Kind switch
    {
        RegisterOperationKind.Write => (true, op.Value),
        RegisterOperationKind.Read => (state == op.Value, state),
        // Adds its value when the key is absent, and returns the key's value either way.
        RegisterOperationKind.GetOrAdd when op.InDoubt => (true, state ?? op.Expected),
        RegisterOperationKind.GetOrAdd => ((state ?? op.Expected) == op.Value, state ?? op.Expected),
        _ when op.InDoubt => (true, state == op.Expected ? op.Value : state),
        _ when op.Swapped => (state == op.Expected, op.Value),
        _ => (state != op.Expected, state),
    };

    private static string Explain(RegisterOperation[] ops, int bestPlaced, RegisterOperation? stuckAt)
    {
        var text = new StringBuilder();
        text.AppendLine($"no order of the {ops.Length} operations explains every result; at best {bestPlaced} placed before this one had to be:");
        text.AppendLine($"  {stuckAt}");
        text.AppendLine("history (by invocation):");
        foreach (RegisterOperation op in ops.OrderBy(o => o.InvokedAt).ThenBy(o => o.CompletedAt ?? long.MaxValue))
        {
            text.AppendLine($"  {op}{(ReferenceEquals(op, stuckAt) ? "   <- stuck" : "")}");
        }

        return text.ToString();
    }

    // A doubly linked list of invocations and completions in time order (at equal times the
    // invocation first: touching operations count as concurrent, the lenient reading).
    private static Entry BuildEntries(RegisterOperation[] ops)
    {
        var entries = new List<(long Time, int Order, Entry Entry)>(ops.Length * 2);
        for (int i = 0; i < ops.Length; i++)
        {
            var call = new Entry(i, isCall: true);
            var done = new Entry(i, isCall: false);
            call.Match = done;
            entries.Add((ops[i].InvokedAt, 0, call));
            entries.Add((ops[i].CompletedAt ?? long.MaxValue, 1, done));
        }

        var head = new Entry(-1, isCall: false);
        Entry last = head;
        foreach ((_, _, Entry entry) in entries.OrderBy(e => e.Time).ThenBy(e => e.Order).ThenBy(e => e.Entry.Op))
        {
            last.Next = entry;
            entry.Prev = last;
            last = entry;
        }

        return head;
    }

    private static void Lift(Entry call)
    {
        call.Prev!.Next = call.Next;
        call.Next!.Prev = call.Prev;
        Entry done = call.Match!;
        done.Prev!.Next = done.Next;
        if (done.Next is not null)
        {
            done.Next.Prev = done.Prev;
        }
    }

    private static void Unlift(Entry call)
    {
        Entry done = call.Match!;
        done.Prev!.Next = done;
        if (done.Next is not null)
        {
            done.Next.Prev = done;
        }

        call.Prev!.Next = call;
        call.Next!.Prev = call;
    }

    private sealed class Entry(int op, bool isCall)
    {
        public int Op { get; } = op;

        public bool IsCall { get; } = isCall;

        public Entry? Match { get; set; }

        public Entry? Prev { get; set; }

        public Entry? Next { get; set; }
    }

    /// <summary>An immutable set of operation indexes with value equality, for the memo.</summary>
    private sealed class BitSet : IEquatable<BitSet>
    {
        private readonly ulong[] _words;
        private readonly int _hash;

        public BitSet(int bits)
            : this(new ulong[(bits + 63) / 64])
        {
        }

        private BitSet(ulong[] words)
        {
            _words = words;
            var hash = new HashCode();
            foreach (ulong word in words)
            {
                hash.Add(word);
            }

            _hash = hash.ToHashCode();
        }

        public BitSet With(int bit) => Change(bit, set: true);

        public BitSet Without(int bit) => Change(bit, set: false);

        public bool Equals(BitSet? other) => other is not null && _hash == other._hash && _words.AsSpan().SequenceEqual(other._words);

        public override bool Equals(object? obj) => Equals(obj as BitSet);

        public override int GetHashCode() => _hash;

        private BitSet Change(int bit, bool set)
        {
            ulong[] words = (ulong[])_words.Clone();
            if (set)
            {
                words[bit >> 6] |= 1UL << (bit & 63);
            }
            else
            {
                words[bit >> 6] &= ~(1UL << (bit & 63));
            }

            return new BitSet(words);
        }
    }
}
