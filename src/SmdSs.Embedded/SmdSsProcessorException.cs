namespace SmdSs;

/// <summary>
/// An entry processor or map function could not run: no processor or map function of that name
/// is registered on the node that ran it, it threw (its exception's type and message are in the
/// message), or its result broke a limit. Nothing was changed.
/// </summary>
public sealed class SmdSsProcessorException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public SmdSsProcessorException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public SmdSsProcessorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public SmdSsProcessorException()
    {
    }
}
