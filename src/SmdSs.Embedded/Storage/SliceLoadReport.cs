using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// What replaying one slice file found. <see cref="Answers"/>: the atomic operations' answers
/// its records hold (from the time asked for); <see cref="NewestAnswers"/>: those of each key's
/// newest record, which may not have reached the other replicas.
/// </summary>
internal sealed record SliceLoadReport(
    string Path,
    int RecordsRead,
    int EntriesLive,
    IReadOnlyList<ReplayDamage> Damage,
    IReadOnlyList<OperationAnswer> Answers,
    IReadOnlyList<(string Key, IReadOnlyList<OperationAnswer> Answers)> NewestAnswers)
{
    public long DamagedBytes => Damage.Sum(d => d.Length);
}
