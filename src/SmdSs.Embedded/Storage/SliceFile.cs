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

    private readonly ISliceDisk _disk;
    private readonly FsyncPolicy _policy;
    private IDiskFile _file;
    private bool _dirty;

    public SliceFile(ISliceDisk disk, string path, FsyncPolicy policy)
    {
        _disk = disk;
        Path = path;
        _policy = policy;
        _file = disk.OpenOrCreate(path);
        Length = _file.Length;
        // A process before this one (killed) may have left bytes the operating system holds but
        // the disk does not: the next fsync point covers them too, and under Always it is now
        // (what this node reads and serves from the file is on the disk, as every write is).
        _dirty = Length > 0;
        if (policy == FsyncPolicy.Always)
        {
            try
            {
                Sync();
            }
            catch
            {
                _file.Dispose();
                throw;
            }
        }
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

    public Stream OpenForReplay() => _disk.OpenRead(Path);

    /// <summary>Appends whole records and returns the offset of the first byte written.</summary>
    public long Append(ReadOnlySpan<byte> records)
    {
        long offset = Length;
        try
        {
            _file.Write(records, offset);
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

    public void Read(long offset, Span<byte> destination) => _file.Read(destination, offset);

    /// <summary>fsync if anything was written since the last one.</summary>
    public void Sync()
    {
        if (_dirty)
        {
            _file.Sync();
            _dirty = false;
        }
    }

    /// <summary>The file to fsync when anything was written since the last fsync (the caller fsyncs, outside the lock).</summary>
    public IDiskFile? TakeDirty()
    {
        if (!_dirty)
        {
            return null;
        }

        _dirty = false;
        return _file;
    }

    /// <summary>Cuts the file at <paramref name="length"/> (drops a torn tail).</summary>
    public void Truncate(long length)
    {
        _file.SetLength(length);
        _file.Sync();
        Length = length;
        _dirty = false;
    }

    /// <summary>
    /// Replaces the file with a new one written by <paramref name="write"/>, crash-safe at every
    /// step: the new content goes to a side file, is fsynced, then atomically renamed over the old
    /// one, which is fsynced again to make the rename durable. A crash before the rename leaves
    /// the old file whole (the side file is deleted on the next start); after it, the new one.
    /// </summary>
    public void Rewrite(Action<SequentialFileWriter> write)
    {
        string temp = Path + CompactSuffix;
        using (IDiskFile side = _disk.Create(temp))
        {
            var writer = new SequentialFileWriter(side);
            write(writer);
            writer.Flush();
            side.Sync();
        }

        _file.Dispose();
        _disk.Replace(temp, Path);
        _file = _disk.OpenOrCreate(Path);
        Length = _file.Length;
        // The rename is on the disk only once the journal holding it is: an fsync of the renamed
        // file commits it (ext4, XFS, btrfs; .NET cannot fsync a directory). Without it a power
        // loss could bring back the old file, whose unsynced tail the new one had made durable.
        _dirty = true;
        try
        {
            Sync();
        }
        catch (IOException)
        {
            // The new file is in place and whole; the next fsync point tries again.
        }
    }

    public static void DeleteLeftovers(ISliceDisk disk, string directory)
    {
        foreach (string leftover in disk.EnumerateFiles(directory, "*" + Extension + CompactSuffix).ToList())
        {
            disk.Delete(leftover);
        }
    }

    public void Delete()
    {
        _file.Dispose();
        _disk.Delete(Path);
    }

    public void Dispose()
    {
        Sync();
        _file.Dispose();
    }

    private void TryTruncate(long length)
    {
        try
        {
            _file.SetLength(length);
        }
        catch (IOException)
        {
            // The disk is failing; the replay's CRC check drops whatever tail remains.
        }
    }
}
