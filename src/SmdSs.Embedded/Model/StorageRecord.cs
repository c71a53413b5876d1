namespace SmdSs.Model;

/// <summary>
/// One decoded record of a slice file. <see cref="Value"/> is empty for Delete and Touch.
/// <see cref="Answers"/>: the answers of the atomic operations whose effect the record holds
/// (written in the record itself, see <c>Storage.RecordAnswers</c>); null for plain writes.
/// </summary>
internal sealed record StorageRecord(RecordKind Kind, string Key, long Version, EntryExpiry Expiry, byte[] Value)
{
    public IReadOnlyList<OperationAnswer>? Answers { get; init; }
}
