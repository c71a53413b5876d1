namespace SmdSs;

/// <summary>
/// The cluster could not serve a request in time: the key's slice has no reachable primary, or
/// a write could not reach <see cref="SmdSsOptions.WriteQuorum"/> replicas within
/// <see cref="SmdSsOptions.RequestTimeout"/>. The write may or may not have been applied.
/// </summary>
public sealed class SmdSsUnavailableException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public SmdSsUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public SmdSsUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public SmdSsUnavailableException()
    {
    }
}
