using System.IO.Enumeration;
using SmdSs.Storage;

namespace SmdSs.Tests.Simulation.Disk;

/// <summary>The process that used a <see cref="SimulatedDisk"/> died: every call on it fails until the disk restarts.</summary>
internal sealed class SimulatedCrashException() : Exception("the simulated process crashed");

/// <summary>
/// A disk in memory that keeps what a real one keeps when the process is killed or the power is
/// cut, decided by a seeded random source so that a run replays exactly.
/// </summary>
/// <remarks>
/// The model is a journalling file system such as ext4 (data=ordered) or XFS:
/// <list type="bullet">
/// <item>What a file holds: the operating system shows every write at once; the disk holds a
/// file's bytes as of its last fsync. A power loss keeps those and, of the bytes written after,
/// a random prefix (a record cut anywhere), which may read back as zeros (the length reached the
/// disk, the data did not).</item>
/// <item>Names (create, rename, delete): in order, in a journal that any fsync commits. A power
/// loss keeps the committed names and a random prefix of the later changes.</item>
/// <item>A kill -9 keeps everything the operating system was given, synced or not: a power loss
/// after the restart may still take what was not synced before it.</item>
/// <item>Directories exist once created (the store creates its one directory at start).</item>
/// </list>
/// A crash can be armed to strike at the n-th change from now (a write, truncation, fsync, create,
/// rename or delete), before it happens: that call and every later one throw
/// <see cref="SimulatedCrashException"/> until <see cref="Restart"/>.
/// </remarks>
internal sealed class SimulatedDisk(Random random) : ISliceDisk
{
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);
    private Dictionary<string, Inode> _names = new(StringComparer.Ordinal);
    private Dictionary<string, Inode> _committedNames = new(StringComparer.Ordinal);
    private readonly List<Action<Dictionary<string, Inode>>> _uncommittedNameChanges = [];
    private int _boot;
    private int _inodes;
    private bool _crashed;
    private long _changesUntilCrash = long.MaxValue;

    /// <summary>Bytes a power loss took from files, over the disk's life.</summary>
    public long BytesLost { get; private set; }

    /// <summary>Name changes a power loss undid, over the disk's life.</summary>
    public long NameChangesLost { get; private set; }

    /// <summary>
    /// A broken disk for the checker's own test: an fsync returns without putting anything on the
    /// disk, so a power loss takes acknowledged writes.
    /// </summary>
    public bool LiesAboutFsync { get; init; }

    /// <summary>The crash strikes at the <paramref name="changes"/>-th change from now (1: the next one).</summary>
    public void ArmCrash(long changes) => _changesUntilCrash = changes;

    /// <summary>The process dies now: nothing it holds open works any more.</summary>
    public void Crash() => _crashed = true;

    /// <summary>
    /// The machine starts again after the process died (<see cref="Crash"/> first, or an armed
    /// crash): with <paramref name="powerLoss"/>, what was not on the disk is lost as the model says.
    /// </summary>
    public void Restart(bool powerLoss)
    {
        _crashed = true;
        _boot++;
        _changesUntilCrash = long.MaxValue;
        if (powerLoss)
        {
            int kept = KeptPrefix(_uncommittedNameChanges.Count);
            NameChangesLost += _uncommittedNameChanges.Count - kept;
            var names = new Dictionary<string, Inode>(_committedNames, StringComparer.Ordinal);
            foreach (Action<Dictionary<string, Inode>> change in _uncommittedNameChanges.Take(kept))
            {
                change(names);
            }

            _names = names;
            foreach (Inode inode in _names.Values.Distinct().OrderBy(i => i.Number))
            {
                BytesLost += inode.LosePower(random);
            }

            CommitNames();
        }

        // After a kill -9 the operating system still holds what the process gave it, synced or not.
        _crashed = false;
    }

    /// <summary>The bytes a file holds now, as the operating system shows them (null: no such file).</summary>
    public byte[]? Contents(string path) => _names.TryGetValue(path, out Inode? inode) ? inode.Data.ToArray() : null;

    public bool DirectoryExists(string path)
    {
        ThrowIfCrashed();
        return _directories.Contains(path);
    }

    public void CreateDirectory(string path)
    {
        ThrowIfCrashed();
        _directories.Add(path);
    }

    public IEnumerable<string> EnumerateFiles(string directory, string pattern)
    {
        ThrowIfCrashed();
        if (!_directories.Contains(directory))
        {
            throw new DirectoryNotFoundException(directory);
        }

        return [.. _names.Keys
            .Where(path => Path.GetDirectoryName(path) == directory && FileSystemName.MatchesSimpleExpression(pattern, Path.GetFileName(path)))
            .Order(StringComparer.Ordinal)];
    }

    public IDiskFile OpenOrCreate(string path)
    {
        ThrowIfCrashed();
        return _names.TryGetValue(path, out Inode? inode) ? new OpenFile(this, inode) : Create(path);
    }

    public IDiskFile Create(string path)
    {
        Change();
        DirectoryOf(path);
        var inode = new Inode(++_inodes);
        ChangeNames(names => names[path] = inode);
        return new OpenFile(this, inode);
    }

    public Stream OpenRead(string path)
    {
        ThrowIfCrashed();
        return new MemoryStream(Find(path).Data.ToArray(), writable: false);
    }

    public void Replace(string from, string to)
    {
        Change();
        Find(from);
        DirectoryOf(to);
        ChangeNames(names =>
        {
            names[to] = names[from];
            names.Remove(from);
        });
    }

    public void Delete(string path)
    {
        Change();
        if (_names.ContainsKey(path))
        {
            ChangeNames(names => names.Remove(path));
        }
    }

    private void ChangeNames(Action<Dictionary<string, Inode>> change)
    {
        change(_names);
        _uncommittedNameChanges.Add(change);
    }

    // A journal commit: an fsync of any file takes the name changes made before it along.
    private void CommitNames()
    {
        _committedNames = new Dictionary<string, Inode>(_names, StringComparer.Ordinal);
        _uncommittedNameChanges.Clear();
    }

    private Inode Find(string path) =>
        _names.TryGetValue(path, out Inode? inode) ? inode : throw new FileNotFoundException("no such file", path);

    private void DirectoryOf(string path)
    {
        if (!_directories.Contains(Path.GetDirectoryName(path) ?? ""))
        {
            throw new DirectoryNotFoundException(path);
        }
    }

    private void Change()
    {
        ThrowIfCrashed();
        if (--_changesUntilCrash <= 0)
        {
            _crashed = true;
            throw new SimulatedCrashException();
        }
    }

    private void ThrowIfCrashed()
    {
        if (_crashed)
        {
            throw new SimulatedCrashException();
        }
    }

    // Of n changes in order, how many survive: often none or all, else a random prefix.
    private int KeptPrefix(int n) => random.Next(4) switch
    {
        0 => 0,
        1 => n,
        _ => random.Next(n + 1),
    };

    /// <summary>A file's bytes: what the operating system shows and what the disk holds.</summary>
    private sealed class Inode(int number)
    {
        private byte[] _data = new byte[256];
        private int _synced;
        // The synced bytes, when a write or a cut since the fsync changed them in _data.
        private byte[]? _syncedBeforeChange;

        public int Number => number;

        public int Length { get; private set; }

        public ReadOnlySpan<byte> Data => _data.AsSpan(0, Length);

        public void Write(ReadOnlySpan<byte> bytes, long offset)
        {
            long end = offset + bytes.Length;
            if (end > int.MaxValue)
            {
                throw new IOException("the simulated disk holds files under 2 GiB");
            }

            KeepSyncedBytes(offset);
            SetLength(Math.Max(Length, (int)end));
            bytes.CopyTo(_data.AsSpan((int)offset));
        }

        public void SetLength(long length)
        {
            if (length < _synced)
            {
                KeepSyncedBytes(length);
            }

            if (length > _data.Length)
            {
                Array.Resize(ref _data, (int)Math.Max(length, _data.Length * 2L));
            }

            if (length > Length)
            {
                _data.AsSpan(Length, (int)length - Length).Clear();
            }

            Length = (int)length;
        }

        public void Sync()
        {
            _synced = Length;
            _syncedBeforeChange = null;
        }

        /// <summary>The power was cut: what the disk holds is what there is. Returns the bytes lost.</summary>
        public long LosePower(Random random)
        {
            int before = Length;
            if (_syncedBeforeChange is { } synced)
            {
                // Changed below what was synced, not synced since: the change may not have reached the disk.
                if (random.Next(2) == 0)
                {
                    _data = [.. synced, .. new byte[256]];
                    Length = synced.Length;
                }
            }
            else
            {
                // Appended since the fsync: a prefix of the appended bytes reached the disk, maybe as zeros.
                int unsynced = Length - _synced;
                int kept = random.Next(4) switch
                {
                    0 => 0,
                    1 => unsynced,
                    _ => random.Next(unsynced + 1),
                };
                if (random.Next(4) == 0)
                {
                    _data.AsSpan(_synced, kept).Clear();
                }

                Length = _synced + kept;
            }

            Sync();
            return Math.Max(0, before - Length);
        }

        private void KeepSyncedBytes(long from)
        {
            if (from < _synced && _syncedBeforeChange is null)
            {
                _syncedBeforeChange = _data.AsSpan(0, _synced).ToArray();
            }
        }
    }

    private sealed class OpenFile(SimulatedDisk disk, Inode inode) : IDiskFile
    {
        private readonly int _boot = disk._boot;
        private bool _disposed;

        public long Length
        {
            get
            {
                Usable();
                return inode.Length;
            }
        }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            Usable();
            disk.Change();
            inode.Write(data, offset);
        }

        public void Read(Span<byte> destination, long offset)
        {
            Usable();
            if (offset < 0 || offset + destination.Length > inode.Length)
            {
                throw new EndOfStreamException($"read {destination.Length} bytes at {offset} of a file of {inode.Length}");
            }

            inode.Data.Slice((int)offset, destination.Length).CopyTo(destination);
        }

        public void SetLength(long length)
        {
            Usable();
            disk.Change();
            inode.SetLength(length);
        }

        public void Sync()
        {
            Usable();
            disk.Change();
            if (!disk.LiesAboutFsync)
            {
                inode.Sync();
                disk.CommitNames();
            }
        }

        public void Dispose() => _disposed = true;

        private void Usable()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (disk._crashed || _boot != disk._boot)
            {
                throw new SimulatedCrashException();
            }
        }
    }
}
