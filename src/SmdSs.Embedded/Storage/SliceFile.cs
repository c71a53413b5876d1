using System.Globalization;
using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// One slice's append-only file. Appends are positional writes straight to the operating system
/// (no user-space buffer), so an acknowledged write survives kill -9 under every policy; fsync
/// follows <see cref="FsyncPolicy"/>. Not thread-safe: its <see cref="SliceStore"/> serialises access.
/// </summary>
internal sealed class SliceFile : IDisposable
{
    public const string Extension = ".smd";
    private const string CompactSuffix = ".compact";

    private readonly FsyncPolicy _policy;
    private FileStream _stream;
    private bool _dirty;

    public SliceFile(string path, FsyncPolicy policy)
    {
        Path = path;
        _policy = policy;
        _stream = Open(path);
        Length = _stream.Length;
    }

    public string Path { get; }

    public long Length { get; private set; }

    public static string NameOf(SliceRange range) =>
        string.Create(CultureInfo.InvariantCulture, $"slice-{range.Start:x8}-{range.End:x8}{Extension}");

    public static bool TryParseName(string fileName, out SliceRange range)
    {
        range = default;
        // slice-xxxxxxxx-xxxxxxxx.smd
        if (fileName.Length != 27 || !fileName.StartsWith("slice-", StringComparison.Ordinal) || !fileName.EndsWith(Extension, StringComparison.Ordinal))
        {
            return false;
        }

        bool ok = uint.TryParse(fileName.AsSpan(6, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint start)
            & uint.TryParse(fileName.AsSpan(15, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint end);
        range = new SliceRange(start, end);
        return ok && fileName[14] == '-' && start <= end;
    }

    public FileStream OpenForReplay() =>
        new(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.SequentialScan);

    /// <summary>Appends whole records and returns the offset of the first byte written.</summary>
    public long Append(ReadOnlySpan<byte> records)
    {
        long offset = Length;
        try
        {
            RandomAccess.Write(_stream.SafeFileHandle, records, offset);
        }
        catch
        {
            // A failed write (disk full) may leave part of a record behind; cut it off so the next
            // append lands where the last whole record ended.
            TryTruncate(offset);
            throw;
        }

        Length = offset + records.Length;
        _dirty = true;
        if (_policy == FsyncPolicy.Always)
        {
            Sync();
        }

        return offset;
    }

    public void Read(long offset, Span<byte> destination) =>
        RandomAccess.Read(_stream.SafeFileHandle, destination, offset);

    /// <summary>fsync if anything was written since the last one.</summary>
    public void Sync()
    {
        if (_dirty)
        {
            _stream.Flush(flushToDisk: true);
            _dirty = false;
        }
    }

    /// <summary>The stream to fsync when anything was written since the last fsync (the caller fsyncs, outside the lock).</summary>
    public FileStream? TakeDirty()
    {
        if (!_dirty)
        {
            return null;
        }

        _dirty = false;
        return _stream;
    }

    /// <summary>Cuts the file at <paramref name="length"/> (drops a torn tail).</summary>
    public void Truncate(long length)
    {
        _stream.SetLength(length);
        _stream.Flush(flushToDisk: true);
        Length = length;
    }

    /// <summary>
    /// Replaces the file with a new one written by <paramref name="write"/>, crash-safe at every
    /// step: the new content goes to a side file, is fsynced, then atomically renamed over the old
    /// one. A crash before the rename leaves the old file whole (the side file is deleted on the
    /// next start); after it, the new one.
    /// </summary>
    public void Rewrite(Action<FileStream> write)
    {
        string temp = Path + CompactSuffix;
        using (FileStream side = PrivateFiles.Open(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            write(side);
            side.Flush(flushToDisk: true);
        }

        _stream.Dispose();
        File.Move(temp, Path, overwrite: true);
        _stream = Open(Path);
        Length = _stream.Length;
        _dirty = false;
    }

    public static void DeleteLeftovers(string directory)
    {
        foreach (string leftover in Directory.EnumerateFiles(directory, "*" + Extension + CompactSuffix))
        {
            File.Delete(leftover);
        }
    }

    public void Delete()
    {
        _stream.Dispose();
        File.Delete(Path);
    }

    public void Dispose()
    {
        Sync();
        _stream.Dispose();
    }

    private static FileStream Open(string path) =>
        PrivateFiles.Open(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);

    private void TryTruncate(long length)
    {
        try
        {
            _stream.SetLength(length);
        }
        catch (IOException)
        {
            // The disk is failing; the replay's CRC check drops whatever tail remains.
        }
    }
}
