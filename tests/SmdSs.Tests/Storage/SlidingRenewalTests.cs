using SmdSs.Model;
using SmdSs.Storage;

namespace SmdSs.Tests.Storage;

/// <summary>When a read's renewal of a sliding entry must go out to the other replicas.</summary>
public sealed class SlidingRenewalTests
{
    private const long Now = 1_800_000_000_000;

    private static StoredEntry Entry(EntryExpiry expiry) => new("key", 7, expiry, [1], 0, 0, 0);

    [Fact]
    public void A_read_that_moves_the_deadline_sends_it()
    {
        StoredEntry entry = Entry(new EntryExpiry(0, 6_000, Now + 6_000));

        Assert.True(SlidingRenewal.Slide(entry, Now + 1_000, atPrimary: false));
        Assert.Equal(Now + 7_000, entry.DeadlineMs);
    }

    [Fact]
    public void A_read_whose_copy_is_ahead_by_an_unconfirmed_touch_still_sends_its_renewal()
    {
        // The primary holds now + 6 s; another replica's touch (whose clock runs ahead, and which
        // may never reach the primary) moved this copy to now + 9 s.
        StoredEntry entry = Entry(new EntryExpiry(0, 6_000, Now + 6_000));
        entry.ExtendDeadline(Now + 9_000);

        // A read at now + 2 s slides to now + 8 s: this copy's deadline does not move, the primary's must.
        Assert.True(SlidingRenewal.Slide(entry, Now + 2_000, atPrimary: false));
        Assert.Equal(Now + 9_000, entry.DeadlineMs);

        // At the primary its own deadline is the primary's: nothing to send when it does not move.
        Assert.False(SlidingRenewal.Slide(entry, Now + 2_000, atPrimary: true));

        // Once the primary confirmed it, a read that moves nothing sends nothing.
        entry.ConfirmDeadline(Now + 9_000);
        Assert.False(SlidingRenewal.Slide(entry, Now + 2_500, atPrimary: false));
    }

    [Fact]
    public void An_entry_without_a_window_or_capped_by_its_absolute_expiration_sends_nothing()
    {
        Assert.False(SlidingRenewal.Slide(Entry(new EntryExpiry(Now + 10_000, 0, Now + 10_000)), Now, atPrimary: false));

        StoredEntry capped = Entry(new EntryExpiry(Now + 10_000, 6_000, Now + 10_000));
        Assert.False(SlidingRenewal.Slide(capped, Now + 5_000, atPrimary: false));
        Assert.False(SlidingRenewal.Slide(capped, Now + 5_000, atPrimary: true));

        StoredEntry claimed = Entry(new EntryExpiry(0, 6_000, Now + 6_000));
        Assert.True(claimed.TryClaimExpiry(Now + 7_000));
        Assert.False(SlidingRenewal.Slide(claimed, Now + 7_000, atPrimary: false));
    }

    [Fact]
    public void A_renewal_from_another_node_lands_only_on_its_version_and_never_revives_an_entry_expired_at_the_primary()
    {
        StoredEntry entry = Entry(new EntryExpiry(0, 6_000, Now + 6_000));

        Assert.Equal(TouchLanding.Refused, SlidingRenewal.Land(null, 7, Now + 8_000, fromPrimary: false, refuseExpiredAtMs: 0));
        Assert.Equal(TouchLanding.Refused, SlidingRenewal.Land(entry, 8, Now + 8_000, fromPrimary: false, refuseExpiredAtMs: 0));
        // At the primary, read as gone at now + 7 s: it stays gone.
        Assert.Equal(TouchLanding.Refused, SlidingRenewal.Land(entry, 7, Now + 12_000, fromPrimary: false, refuseExpiredAtMs: Now + 7_000));
        Assert.Equal(Now + 6_000, entry.DeadlineMs);

        // A replica's renewal moves the deadline; the primary is not known to hold it.
        Assert.Equal(TouchLanding.Moved, SlidingRenewal.Land(entry, 7, Now + 8_000, fromPrimary: false, refuseExpiredAtMs: Now + 1_000));
        Assert.Equal(Now + 8_000, entry.DeadlineMs);
        Assert.Equal(Now + 6_000, entry.PrimaryDeadlineMs);
        Assert.True(SlidingRenewal.PrimaryHolds(entry, 7, Now + 8_000));
        Assert.False(SlidingRenewal.PrimaryHolds(entry, 7, Now + 9_000));

        // The primary's own renewal, earlier than this copy's: nothing moves, but the primary holds it.
        Assert.Equal(TouchLanding.Held, SlidingRenewal.Land(entry, 7, Now + 7_000, fromPrimary: true, refuseExpiredAtMs: 0));
        Assert.Equal(Now + 7_000, entry.PrimaryDeadlineMs);

        // Claimed for expiry by the primary: it holds no renewal any more.
        Assert.True(entry.TryClaimExpiry(Now + 9_000));
        Assert.False(SlidingRenewal.PrimaryHolds(entry, 7, Now + 8_000));
    }
}
