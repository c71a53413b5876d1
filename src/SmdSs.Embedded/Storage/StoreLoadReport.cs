using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// What opening the store found: every slice file replayed, and files adopted from an older
/// layout. <see cref="Answers"/>: the operation answers the records of both hold, in version
/// order; <see cref="NewestAnswers"/>: those of each key's newest record, wherever it was.
/// </summary>
internal sealed record StoreLoadReport(
    IReadOnlyList<SliceLoadReport> Slices,
    IReadOnlyList<string> AdoptedFiles,
    IReadOnlyList<OperationAnswer> Answers,
    IReadOnlyList<(string Key, IReadOnlyList<OperationAnswer> Answers)> NewestAnswers)
{
    public int EntriesLoaded => Slices.Sum(s => s.EntriesLive);
}
