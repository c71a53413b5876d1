namespace SmdSs.Benchmarks.Subjects;

/// <summary>The subjects of a run. Add a subject here (e.g. a cluster or Redis) to get its rows in the table.</summary>
internal static class CacheSubjects
{
    /// <summary>Every other subject's throughput is shown as a ratio to this one.</summary>
    public static ICacheSubject Baseline { get; } = new MemoryCacheSubject();

    public static IReadOnlyList<ICacheSubject> All { get; } = [new SmdSsSubject(), Baseline];
}
