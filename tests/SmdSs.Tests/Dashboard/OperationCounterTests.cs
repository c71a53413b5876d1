using SmdSs.Diagnostics;

namespace SmdSs.Tests.Dashboard;

/// <summary>The striped operations counter loses no increment under contention.</summary>
public sealed class OperationCounterTests
{
    [Fact]
    public void Concurrent_increments_from_many_threads_sum_exactly()
    {
        var counter = new OperationCounter();
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, _ =>
        {
            for (int i = 0; i < 100_000; i++)
            {
                counter.Increment();
            }
        });

        Assert.Equal(1_600_000, counter.Total);
    }
}
