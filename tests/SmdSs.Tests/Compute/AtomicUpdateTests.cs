using System.Text;
using Microsoft.Extensions.Caching.Distributed;
using SmdSs.Compute;
using SmdSs.Model;
using SmdSs.Protocol;

namespace SmdSs.Tests.Compute;

/// <summary>The read-modify-write decision of every atomic operation, from the current entry alone.</summary>
public sealed class AtomicUpdateTests
{
    private const int MaxValueBytes = 64;
    private static readonly DateTimeOffset Now = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly EntryExpiry CallerExpiry = new(9_000_000, 0, 9_000_000);
    private static readonly EntryExpiry KeptExpiry = new(0, 60_000, 5_000_000);
    private static readonly CurrentEntry Missing = new(0, EntryExpiry.None, []);

    private static CurrentEntry Existing(string value, long version = 7) => new(version, KeptExpiry, Encoding.UTF8.GetBytes(value));

    private static AtomicRequest Request(AtomicKind kind, long number = 0, string value = "", string name = "") =>
        new(kind, "k", 42, CallerExpiry, number, name, Encoding.UTF8.GetBytes(value));

    private static AtomicChange Decide(AtomicRequest request, CurrentEntry current, params ISmdSsEntryProcessor[] processors) =>
        AtomicUpdate.Decide(request, current, MaxValueBytes, name => processors.FirstOrDefault(p => p.Name == name), Now);

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    [Fact]
    public void Increment_of_a_missing_key_creates_the_counter_with_the_callers_expiry()
    {
        AtomicChange change = Decide(Request(AtomicKind.Increment, 5), Missing);
        StorageRecord write = Assert.IsType<StorageRecord>(change.Write);
        Assert.Equal(RecordKind.Put, write.Kind);
        Assert.Equal("k", write.Key);
        Assert.Equal(0, write.Version); // the primary assigns it
        Assert.Equal(CallerExpiry, write.Expiry);
        Assert.Equal("5", Text(write.Value));
        Assert.Equal(5, new MessageReader(change.Answer(123)).I64());
    }

    [Fact]
    public void Increment_of_an_existing_counter_keeps_its_expiry()
    {
        AtomicChange change = Decide(Request(AtomicKind.Increment, -3), Existing("10"));
        Assert.Equal(KeptExpiry, change.Write!.Expiry);
        Assert.Equal("7", Text(change.Write.Value));
        Assert.Equal(7, new MessageReader(change.Answer(8)).I64());
    }

    [Fact]
    public void Increment_of_a_non_counter_or_past_the_range_throws_and_writes_nothing()
    {
        Assert.Throws<InvalidOperationException>(() => Decide(Request(AtomicKind.Increment, 1), Existing("abc")));
        Assert.Throws<InvalidOperationException>(() => Decide(Request(AtomicKind.Increment, 1), Existing(long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture))));
    }

    [Fact]
    public void Append_concatenates_keeps_the_expiry_and_answers_the_new_length()
    {
        AtomicChange created = Decide(Request(AtomicKind.Append, value: "ab"), Missing);
        Assert.Equal("ab", Text(created.Write!.Value));
        Assert.Equal(CallerExpiry, created.Write.Expiry);
        Assert.Equal(2, new MessageReader(created.Answer(1)).I64());

        AtomicChange grown = Decide(Request(AtomicKind.Append, value: "cd"), Existing("ab"));
        Assert.Equal("abcd", Text(grown.Write!.Value));
        Assert.Equal(KeptExpiry, grown.Write.Expiry);
        Assert.Equal(4, new MessageReader(grown.Answer(1)).I64());
    }

    [Fact]
    public void Append_up_to_MaxValueBytes_is_allowed_one_byte_more_is_refused()
    {
        string half = new('x', MaxValueBytes / 2);
        AtomicChange full = Decide(Request(AtomicKind.Append, value: half), Existing(half));
        Assert.Equal(MaxValueBytes, full.Write!.Value.Length);

        Assert.Throws<ArgumentException>(() => Decide(Request(AtomicKind.Append, value: half + "y"), Existing(half)));
    }

    [Fact]
    public void CompareAndSwap_with_the_current_version_writes_and_answers_the_new_version()
    {
        AtomicChange change = Decide(Request(AtomicKind.CompareAndSwap, 7, "new"), Existing("old", version: 7));
        StorageRecord write = Assert.IsType<StorageRecord>(change.Write);
        Assert.Equal("new", Text(write.Value));
        Assert.Equal(CallerExpiry, write.Expiry); // a swap replaces the value and its expiration

        var answer = new MessageReader(change.Answer(99));
        Assert.True(answer.Bool());
        Assert.Equal(99, answer.I64());
    }

    [Theory]
    [InlineData(6L)]
    [InlineData(8L)]
    [InlineData(0L)]
    public void CompareAndSwap_with_another_version_writes_nothing_and_answers_the_current_version(long expected)
    {
        AtomicChange change = Decide(Request(AtomicKind.CompareAndSwap, expected, "new"), Existing("old", version: 7));
        Assert.Null(change.Write);

        var answer = new MessageReader(change.Answer(7));
        Assert.False(answer.Bool());
        Assert.Equal(7, answer.I64());
    }

    [Fact]
    public void CompareAndSwap_expecting_0_creates_a_missing_key_only()
    {
        AtomicChange created = Decide(Request(AtomicKind.CompareAndSwap, 0, "first"), Missing);
        Assert.Equal("first", Text(created.Write!.Value));

        AtomicChange expectedSomething = Decide(Request(AtomicKind.CompareAndSwap, 5, "x"), Missing);
        Assert.Null(expectedSomething.Write);
        var answer = new MessageReader(expectedSomething.Answer(0));
        Assert.False(answer.Bool());
        Assert.Equal(0, answer.I64());
    }

    [Fact]
    public void CompareAndSwap_of_a_value_over_MaxValueBytes_is_refused_even_on_a_mismatch()
    {
        string big = new('x', MaxValueBytes + 1);
        Assert.Throws<ArgumentException>(() => Decide(Request(AtomicKind.CompareAndSwap, 7, big), Existing("old", version: 7)));
        Assert.Throws<ArgumentException>(() => Decide(Request(AtomicKind.CompareAndSwap, 1, big), Existing("old", version: 7)));
    }

    [Fact]
    public void Complete_adds_a_missing_value_and_answers_it()
    {
        AtomicChange change = Decide(Request(AtomicKind.Complete, 3, "made"), Missing);
        Assert.Equal("made", Text(change.Write!.Value));
        Assert.Equal(CallerExpiry, change.Write.Expiry);
        Assert.Equal("made", Text(change.Answer(5)));
    }

    [Fact]
    public void Complete_of_a_key_that_appeared_meanwhile_keeps_it_and_answers_it()
    {
        AtomicChange change = Decide(Request(AtomicKind.Complete, 3, "made"), Existing("set meanwhile"));
        Assert.Null(change.Write);
        Assert.Equal("set meanwhile", Text(change.Answer(7)));
    }

    [Theory]
    [InlineData((byte)AtomicKind.ReadVersioned)]
    [InlineData((byte)AtomicKind.Claim)]
    [InlineData((byte)AtomicKind.Abandon)]
    public void Kinds_that_are_not_read_modify_write_are_refused(byte kind) =>
        Assert.Throws<ArgumentException>(() => Decide(Request((AtomicKind)kind), Missing));

    [Fact]
    public void Execute_of_an_unknown_processor_throws_naming_it()
    {
        SmdSsProcessorException ex = Assert.Throws<SmdSsProcessorException>(() =>
            Decide(Request(AtomicKind.Execute, name: "nope"), Existing("v"), new Processor("other", (_, _) => SmdSsProcessorResult.Keep())));
        Assert.Contains("'nope'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Execute_of_a_throwing_processor_throws_SmdSsProcessorException_with_its_cause()
    {
        var boom = new FormatException("bad cart");
        SmdSsProcessorException ex = Assert.Throws<SmdSsProcessorException>(() =>
            Decide(Request(AtomicKind.Execute, name: "cart"), Existing("v"), new Processor("cart", (_, _) => throw boom)));
        Assert.Same(boom, ex.InnerException);
        Assert.Contains("'cart'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("bad cart", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Execute_of_a_processor_returning_null_throws() =>
        Assert.Throws<SmdSsProcessorException>(() =>
            Decide(Request(AtomicKind.Execute, name: "null"), Missing, new Processor("null", (_, _) => null!)));

    [Fact]
    public void Execute_gives_the_processor_the_current_entry_and_the_argument()
    {
        SmdSsEntry? seen = null;
        string? argument = null;
        Decide(Request(AtomicKind.Execute, value: "arg", name: "p"), Existing("value", version: 11), new Processor("p", (entry, arg) =>
        {
            seen = entry;
            argument = Text(arg.ToArray());
            return SmdSsProcessorResult.Keep();
        }));

        Assert.NotNull(seen);
        Assert.Equal("k", seen.Key);
        Assert.True(seen.Exists);
        Assert.Equal(11, seen.Version);
        Assert.Equal("value", Text(seen.Value.ToArray()));
        Assert.Equal("arg", argument);

        Decide(Request(AtomicKind.Execute, name: "p"), Missing, new Processor("p", (entry, _) =>
        {
            seen = entry;
            return SmdSsProcessorResult.Keep();
        }));
        Assert.False(seen.Exists);
        Assert.True(seen.Value.IsEmpty);
    }

    [Fact]
    public void Execute_Keep_writes_nothing_and_answers_the_reply()
    {
        AtomicChange change = Decide(Request(AtomicKind.Execute, name: "p"), Existing("v"), new Processor("p", (_, _) => SmdSsProcessorResult.Keep("r"u8)));
        Assert.Null(change.Write);
        Assert.Equal("r", Text(change.Answer(7)));
    }

    [Fact]
    public void Execute_Set_without_options_keeps_the_entrys_expiry_and_a_new_entry_gets_none()
    {
        var set = new Processor("p", (_, _) => SmdSsProcessorResult.Set("new"u8, "ok"u8));

        AtomicChange update = Decide(Request(AtomicKind.Execute, name: "p"), Existing("old"), set);
        Assert.Equal(KeptExpiry, update.Write!.Expiry);
        Assert.Equal("new", Text(update.Write.Value));
        Assert.Equal("ok", Text(update.Answer(8)));

        // Execute carries no caller expiry: a new entry made by a processor does not expire unless it says so.
        AtomicChange created = Decide(Request(AtomicKind.Execute, name: "p"), Missing, set);
        Assert.Equal(EntryExpiry.None, created.Write!.Expiry);
    }

    [Fact]
    public void Execute_Set_with_options_sets_that_expiry()
    {
        var options = new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(5) };
        AtomicChange change = Decide(Request(AtomicKind.Execute, name: "p"), Existing("old"), new Processor("p", (_, _) => SmdSsProcessorResult.Set("new"u8, options: options)));
        Assert.Equal(EntryExpiry.FromOptions(options, Now), change.Write!.Expiry);
    }

    [Fact]
    public void Execute_Set_with_a_bad_expiration_or_an_oversized_value_throws()
    {
        var past = new DistributedCacheEntryOptions { AbsoluteExpiration = Now.AddSeconds(-1) };
        Assert.Throws<SmdSsProcessorException>(() =>
            Decide(Request(AtomicKind.Execute, name: "p"), Existing("old"), new Processor("p", (_, _) => SmdSsProcessorResult.Set("new"u8, options: past))));

        byte[] big = new byte[MaxValueBytes + 1];
        Assert.Throws<SmdSsProcessorException>(() =>
            Decide(Request(AtomicKind.Execute, name: "p"), Existing("old"), new Processor("p", (_, _) => SmdSsProcessorResult.Set(big))));
    }

    [Fact]
    public void Execute_Remove_deletes_an_existing_entry_and_writes_nothing_for_a_missing_one()
    {
        var remove = new Processor("p", (_, _) => SmdSsProcessorResult.Remove("gone"u8));

        AtomicChange removed = Decide(Request(AtomicKind.Execute, name: "p"), Existing("v"), remove);
        Assert.Equal(RecordKind.Delete, removed.Write!.Kind);
        Assert.Equal("k", removed.Write.Key);
        Assert.Equal("gone", Text(removed.Answer(8)));

        AtomicChange nothing = Decide(Request(AtomicKind.Execute, name: "p"), Missing, remove);
        Assert.Null(nothing.Write);
        Assert.Equal("gone", Text(nothing.Answer(0)));
    }

    [Fact]
    public void Execute_reply_up_to_MaxReplyBytes_is_allowed_one_byte_more_is_refused()
    {
        byte[] limit = new byte[SmdSsLimits.MaxReplyBytes];
        AtomicChange change = Decide(Request(AtomicKind.Execute, name: "p"), Missing, new Processor("p", (_, _) => SmdSsProcessorResult.Keep(limit)));
        Assert.Equal(SmdSsLimits.MaxReplyBytes, change.Answer(0).Length);

        byte[] over = new byte[SmdSsLimits.MaxReplyBytes + 1];
        SmdSsProcessorException ex = Assert.Throws<SmdSsProcessorException>(() =>
            Decide(Request(AtomicKind.Execute, name: "p"), Existing("v"), new Processor("p", (_, _) => SmdSsProcessorResult.Set("new"u8, over))));
        Assert.Contains("'p'", ex.Message, StringComparison.Ordinal);
    }

    private sealed class Processor(string name, Func<SmdSsEntry, ReadOnlyMemory<byte>, SmdSsProcessorResult> process) : ISmdSsEntryProcessor
    {
        public string Name => name;

        public SmdSsProcessorResult Process(SmdSsEntry entry, ReadOnlyMemory<byte> argument) => process(entry, argument);
    }
}
