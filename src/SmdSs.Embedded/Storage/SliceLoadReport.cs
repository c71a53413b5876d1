using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// What replaying one slice file found. <see cref="AnswersByVersion"/>: the atomic operations'
/// answers its records hold (from the time asked for) with the records' versions, in version
/// order; <see cref="NewestAnswers"/>: those of each key's newest record, which may not have
/// reached the other replicas.
/// </summary>
internal sealed record SliceLoadReport(
    string Path,
    int RecordsRead,
    int EntriesLive,
    IReadOnlyList<ReplayDamage> Damage,
    IReadOnlyList<(long Version, OperationAnswer Answer)> AnswersByVersion,
    IReadOnlyList<(string Key, long Version, IReadOnlyList<OperationAnswer> Answers)> NewestAnswers)
{
    public long DamagedBytes => Damage.Sum(d => d.Length);

    /// <summary>The answers, in version order: a later record's answer of an operation is the one its history holds.</summary>
    public IEnumerable<OperationAnswer> Answers => AnswersByVersion.Select(a => a.Answer);
}
