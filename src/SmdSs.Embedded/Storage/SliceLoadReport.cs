namespace SmdSs.Storage;

/// <summary>What replaying one slice file found.</summary>
internal sealed record SliceLoadReport(string Path, int RecordsRead, int EntriesLive, IReadOnlyList<ReplayDamage> Damage)
{
    public long DamagedBytes => Damage.Sum(d => d.Length);
}
