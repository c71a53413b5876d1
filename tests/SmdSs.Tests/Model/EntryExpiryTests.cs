using SmdSs.Model;

namespace SmdSs.Tests.Model;

/// <summary>A write's expiry as its primary applies it: a sliding window runs from the apply at the earliest.</summary>
public sealed class EntryExpiryTests
{
    private const long Now = 1_800_000_000_000;

    [Fact]
    public void A_sliding_write_that_arrives_late_runs_its_window_from_the_apply()
    {
        // Its caller computed now + 6 s; forwarded and retried, it arrives 8 s later.
        var expiry = new EntryExpiry(0, 6_000, Now + 6_000);

        Assert.Equal(Now + 14_000, expiry.AppliedAt(Now + 8_000).DeadlineMs);
        // On time (or from a caller whose clock is ahead): the caller's deadline stands.
        Assert.Equal(Now + 6_000, expiry.AppliedAt(Now - 500).DeadlineMs);
    }

    [Fact]
    public void An_absolute_expiration_caps_it_and_a_write_without_a_window_keeps_its_deadline()
    {
        var capped = new EntryExpiry(Now + 10_000, 6_000, Now + 6_000);
        Assert.Equal(Now + 10_000, capped.AppliedAt(Now + 8_000).DeadlineMs);

        var absolute = new EntryExpiry(Now + 10_000, 0, Now + 10_000);
        Assert.Equal(absolute, absolute.AppliedAt(Now + 8_000));
        Assert.Equal(EntryExpiry.None, EntryExpiry.None.AppliedAt(Now));
    }
}
