using System.IO.Enumeration;

namespace SmdSs.Storage;

/// <summary>The operating system's file system (<see cref="PrivateFiles"/> permissions).</summary>
internal sealed class OsDisk : ISliceDisk
{
    public static readonly OsDisk Instance = new();

    private OsDisk()
    {
    }

    public bool DirectoryExists(string path) => Directory.Exists(path);

    public void CreateDirectory(string path) => PrivateFiles.CreateDirectory(path);

    public IEnumerable<string> EnumerateFiles(string directory, string pattern) =>
        Directory.EnumerateFiles(directory, pattern).Where(path => FileSystemName.MatchesSimpleExpression(pattern, Path.GetFileName(path)));

    public IDiskFile OpenOrCreate(string path) =>
        new OsFile(PrivateFiles.Open(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0));

    public IDiskFile Create(string path) =>
        new OsFile(PrivateFiles.Open(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, bufferSize: 0));

    public Stream OpenRead(string path) =>
        new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.SequentialScan);

    public void Replace(string from, string to) => File.Move(from, to, overwrite: true);

    public void Delete(string path) => File.Delete(path);

    private sealed class OsFile(FileStream stream) : IDiskFile
    {
        public long Length => stream.Length;

        public void Write(ReadOnlySpan<byte> data, long offset) => RandomAccess.Write(stream.SafeFileHandle, data, offset);

        public void Read(Span<byte> destination, long offset)
        {
            int read = RandomAccess.Read(stream.SafeFileHandle, destination, offset);
            if (read != destination.Length)
            {
                throw new EndOfStreamException($"read {read} of {destination.Length} bytes at {offset} of {stream.Name}");
            }
        }

        public void SetLength(long length) => stream.SetLength(length);

        public void Sync() => stream.Flush(flushToDisk: true);

        public void Dispose() => stream.Dispose();
    }
}
