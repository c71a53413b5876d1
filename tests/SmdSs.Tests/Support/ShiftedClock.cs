namespace SmdSs.Tests.Support;

/// <summary>
/// The system clock with a wall-clock offset the test moves; timestamps and timers stay real. A
/// cluster runs on real time while what it stamps with the wall clock (the time a node went)
/// ages by days.
/// </summary>
public sealed class ShiftedClock : TimeProvider
{
    private long _offsetTicks;

    public void Shift(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
}
