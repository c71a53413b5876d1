namespace SmdSs.Storage;

/// <summary>
/// The node's files are its own: on Unix the data directory and every folder in it are created
/// 0700 and every file 0600 (the umask can only take bits away), and a start tightens what an
/// older release left wider. A data directory other users can write to is refused, as PostgreSQL
/// refuses a readable one: whoever can write there can change the cluster's data.
/// </summary>
internal static class PrivateFiles
{
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, DirectoryMode);
        }
    }

    /// <summary>A file stream whose file, when this creates it, only the node's user can read or write.</summary>
    public static FileStream Open(string path, System.IO.FileMode mode, FileAccess access, FileShare share, int bufferSize = 4096, FileOptions options = FileOptions.None)
    {
        var settings = new FileStreamOptions { Mode = mode, Access = access, Share = share, BufferSize = bufferSize, Options = options };
        if (!OperatingSystem.IsWindows() && mode is not (System.IO.FileMode.Open or System.IO.FileMode.Truncate))
        {
            settings.UnixCreateMode = FileMode;
        }

        return new FileStream(path, settings);
    }

    /// <summary>Why <paramref name="directory"/> must not hold a node's data, or null when it may.</summary>
    public static string? Refusal(string directory)
    {
        if (OperatingSystem.IsWindows() || !Directory.Exists(directory))
        {
            return null;
        }

        UnixFileMode mode = File.GetUnixFileMode(directory);
        return (mode & WritableByOthers) == 0
            ? null
            : $"other users can write to it (mode {Octal(mode)}): anyone on this machine could change the cluster's data. Make it private to the node's user (chmod 700), or name another directory";
    }

    /// <summary>Takes every permission of other users off <paramref name="directory"/> and everything in it.</summary>
    public static void Tighten(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(directory, DirectoryMode);
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory, "*", SearchOption.AllDirectories))
        {
            UnixFileMode wanted = Directory.Exists(entry) ? DirectoryMode : FileMode;
            if ((File.GetUnixFileMode(entry) & ~wanted) != 0)
            {
                File.SetUnixFileMode(entry, File.GetUnixFileMode(entry) & wanted);
            }
        }
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode & 0xFFF, 8).PadLeft(4, '0');
}
