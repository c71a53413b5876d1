namespace SmdSs.Storage;

/// <summary>
/// The file system under the slice files: the operating system's (<see cref="OsDisk"/>), or a
/// simulated disk in the tests, which loses what was not synced when its power is cut. Only
/// what the store does is here: whole files by path, appends, positional reads, truncation,
/// fsync, atomic renames.
/// </summary>
internal interface ISliceDisk
{
    bool DirectoryExists(string path);

    /// <summary>Creates the directory (and its parents), private to the node's user.</summary>
    void CreateDirectory(string path);

    /// <summary>Full paths of the files in <paramref name="directory"/> whose names match <paramref name="pattern"/> (<c>*</c> and <c>?</c>).</summary>
    IEnumerable<string> EnumerateFiles(string directory, string pattern);

    /// <summary>Opens the file for reads and writes, creating it (private to the node's user) if it does not exist.</summary>
    IDiskFile OpenOrCreate(string path);

    /// <summary>Creates the file empty, replacing one of that name.</summary>
    IDiskFile Create(string path);

    /// <summary>Reads the file from its start; appends made meanwhile may or may not be seen.</summary>
    Stream OpenRead(string path);

    /// <summary>Renames <paramref name="from"/> to <paramref name="to"/>, replacing it, atomically.</summary>
    void Replace(string from, string to);

    /// <summary>Deletes the file; nothing happens when there is none.</summary>
    void Delete(string path);
}

/// <summary>An open file of an <see cref="ISliceDisk"/>.</summary>
internal interface IDiskFile : IDisposable
{
    long Length { get; }

    /// <summary>Writes at <paramref name="offset"/>, straight to the operating system (no buffer of its own).</summary>
    void Write(ReadOnlySpan<byte> data, long offset);

    /// <summary>Reads exactly <paramref name="destination"/>'s length at <paramref name="offset"/>.</summary>
    void Read(Span<byte> destination, long offset);

    void SetLength(long length);

    /// <summary>fsync: everything written before the call is on the disk when it returns. May run while another thread writes.</summary>
    void Sync();
}
