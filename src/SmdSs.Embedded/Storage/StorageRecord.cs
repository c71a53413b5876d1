namespace SmdSs.Storage;

/// <summary>One decoded record of a slice file. <see cref="Value"/> is empty for Delete and Touch.</summary>
internal sealed record StorageRecord(RecordKind Kind, string Key, long Version, EntryExpiry Expiry, byte[] Value);
