using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>What opening the store found: every slice file replayed, and files adopted from an older layout.</summary>
internal sealed record StoreLoadReport(IReadOnlyList<SliceLoadReport> Slices, IReadOnlyList<string> AdoptedFiles)
{
    public int EntriesLoaded => Slices.Sum(s => s.EntriesLive);

    public IEnumerable<OperationAnswer> Answers => Slices.SelectMany(s => s.Answers);

    public IEnumerable<(string Key, IReadOnlyList<OperationAnswer> Answers)> NewestAnswers => Slices.SelectMany(s => s.NewestAnswers);
}
