namespace SmdSs.Model;

/// <summary>The answer a primary gave to operation <paramref name="Id"/> on a key with hash <paramref name="KeyHash"/>.</summary>
internal readonly record struct OperationAnswer(ulong Id, uint KeyHash, byte[] Answer);
