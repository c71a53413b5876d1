namespace SmdSs.Tests.Consistency;

/// <summary>What a client did to one key (a register).</summary>
public enum RegisterOperationKind
{
    /// <summary>Set the value (<see cref="RegisterOperation.Value"/>; null removes).</summary>
    Write,

    /// <summary>Read the value (<see cref="RegisterOperation.Value"/> holds what was read; null: absent).</summary>
    Read,

    /// <summary>Compare-and-swap: if the value is <see cref="RegisterOperation.Expected"/>, set <see cref="RegisterOperation.Value"/>.</summary>
    CompareAndSwap,

    /// <summary>
    /// Get-or-add: if the key is absent, set <see cref="RegisterOperation.Expected"/> (the value
    /// the caller's factory made); <see cref="RegisterOperation.Value"/> holds what it returned
    /// (the key's value, or the one it added).
    /// </summary>
    GetOrAdd,
}

/// <summary>
/// One operation on a key as a client saw it: invoked at <see cref="InvokedAt"/>, completed at
/// <see cref="CompletedAt"/> with its result, or in doubt (null: it failed or timed out, so it may
/// have taken effect at any time after its invocation, or never).
/// </summary>
public sealed record RegisterOperation(
    string Client,
    RegisterOperationKind Kind,
    string? Value,
    long InvokedAt,
    long? CompletedAt,
    string? Expected = null,
    bool Swapped = false)
{
    public bool InDoubt => CompletedAt is null;

    public static RegisterOperation Write(string client, string? value, long invokedAt, long? completedAt) =>
        new(client, RegisterOperationKind.Write, value, invokedAt, completedAt);

    public static RegisterOperation Read(string client, string? read, long invokedAt, long completedAt) =>
        new(client, RegisterOperationKind.Read, read, invokedAt, completedAt);

    public static RegisterOperation Cas(string client, string? expected, string? value, bool swapped, long invokedAt, long? completedAt) =>
        new(client, RegisterOperationKind.CompareAndSwap, value, invokedAt, completedAt, expected, swapped);

    public static RegisterOperation GetOrAdd(string client, string made, string? returned, long invokedAt, long? completedAt) =>
        new(client, RegisterOperationKind.GetOrAdd, returned, invokedAt, completedAt, made);

    public override string ToString()
    {
        string span = $"[{InvokedAt} .. {(CompletedAt is { } c ? c.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")}]";
        string what = Kind switch
        {
            RegisterOperationKind.Write => $"write({Show(Value)})",
            RegisterOperationKind.Read => $"read -> {Show(Value)}",
            RegisterOperationKind.GetOrAdd => $"get-or-add({Show(Expected)}) -> {(InDoubt ? "?" : Show(Value))}",
            _ => $"cas({Show(Expected)} -> {Show(Value)}) -> {(InDoubt ? "?" : Swapped ? "swapped" : "not swapped")}",
        };
        return $"{span} {Client} {what}{(InDoubt && Kind is RegisterOperationKind.Write or RegisterOperationKind.Read ? " (in doubt)" : "")}";
    }

    private static string Show(string? value) => value is null ? "absent" : $"\"{value}\"";
}
