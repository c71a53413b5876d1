using SmdSs.Diagnostics;

namespace SmdSs.Tests.Diagnostics;

public sealed class RateLimitedLogTests
{
    [Fact]
    public void One_line_per_subject_per_interval_with_the_count_held_back()
    {
        var log = new RateLimitedLog<string>(1000);

        Assert.True(log.ShouldLog("a", 5_000, out long suppressed));
        Assert.Equal(0, suppressed);
        Assert.False(log.ShouldLog("a", 5_100, out _));
        Assert.False(log.ShouldLog("a", 5_999, out _));
        Assert.True(log.ShouldLog("b", 5_999, out _));
        Assert.True(log.ShouldLog("a", 6_000, out suppressed));
        Assert.Equal(2, suppressed);
        Assert.False(log.ShouldLog("a", 6_001, out _));
    }
}
