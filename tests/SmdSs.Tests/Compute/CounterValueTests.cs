using System.Text;
using SmdSs.Compute;

namespace SmdSs.Tests.Compute;

/// <summary>A counter's stored form: ASCII decimal, parsed strictly, with checked arithmetic.</summary>
public sealed class CounterValueTests
{
    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(-1L)]
    [InlineData(1234567890123L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void Format_writes_ASCII_decimal_that_Add_reads_back(long value)
    {
        byte[] stored = CounterValue.Format(value);
        Assert.Equal(value.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.ASCII.GetString(stored));

        byte[] same = CounterValue.Add("k", stored, exists: true, 0, out long sum);
        Assert.Equal(value, sum);
        Assert.Equal(stored, same);
    }

    [Fact]
    public void A_missing_counter_starts_at_zero()
    {
        byte[] stored = CounterValue.Add("k", [], exists: false, 5, out long sum);
        Assert.Equal(5, sum);
        Assert.Equal("5", Encoding.ASCII.GetString(stored));

        CounterValue.Add("k", [], exists: false, -3, out long negative);
        Assert.Equal(-3, negative);
    }

    [Fact]
    public void An_existing_counter_adds_the_delta()
    {
        byte[] stored = CounterValue.Add("k", "41"u8, exists: true, 1, out long sum);
        Assert.Equal(42, sum);
        Assert.Equal("42", Encoding.ASCII.GetString(stored));

        CounterValue.Add("k", "-10"u8, exists: true, 3, out long negative);
        Assert.Equal(-7, negative);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("12a")]
    [InlineData("1 ")]
    [InlineData(" 1")]
    [InlineData("0x10")]
    [InlineData("99999999999999999999")]
    [InlineData("\"5\"")]
    public void A_value_that_is_not_a_64_bit_decimal_integer_is_refused_naming_the_key(string value)
    {
        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() =>
            CounterValue.Add("the-key", Encoding.UTF8.GetBytes(value), exists: true, 1, out _));
        Assert.Contains("the-key", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(long.MaxValue, 1L)]
    [InlineData(long.MinValue, -1L)]
    [InlineData(1L, long.MaxValue)]
    [InlineData(-2L, long.MinValue)]
    public void An_overflowing_sum_is_refused(long current, long delta)
    {
        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() =>
            CounterValue.Add("big", CounterValue.Format(current), exists: true, delta, out _));
        Assert.IsType<OverflowException>(ex.InnerException);
        Assert.Contains("big", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_extremes_are_reachable_without_overflow()
    {
        CounterValue.Add("k", CounterValue.Format(long.MaxValue - 1), exists: true, 1, out long max);
        Assert.Equal(long.MaxValue, max);
        CounterValue.Add("k", [], exists: false, long.MinValue, out long min);
        Assert.Equal(long.MinValue, min);
    }
}
