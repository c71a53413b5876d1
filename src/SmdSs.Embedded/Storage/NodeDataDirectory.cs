using System.Globalization;
using SmdSs.Model;

namespace SmdSs.Storage;

/// <summary>
/// The node's data directory: its identity file (<c>node.id</c>: node id and incarnation), a lock
/// file held while the node runs (two nodes on one directory would corrupt each other's files),
/// the run file (<c>node.run</c>: the machine boot the node runs in, its FsyncPolicy, and whether
/// it runs, stopped cleanly, or may still serve files that lack writes), and the <c>slices</c> folder, all private to the node's user (<see cref="PrivateFiles"/>).
/// </summary>
internal sealed class NodeDataDirectory : IDisposable
{
    private const string IdentityFile = "node.id";
    private const string LockFile = "node.lock";
    private const string RunFile = "node.run";
    private readonly FileStream _lock;
    private readonly string _bootId;

    private readonly FsyncPolicy _policy;

    private NodeDataDirectory(string path, FileStream lockStream, NodeId nodeId, long incarnation, string bootId, FsyncPolicy policy, bool filesMayLackWrites)
    {
        Path = path;
        _lock = lockStream;
        NodeId = nodeId;
        Incarnation = incarnation;
        _bootId = bootId;
        _policy = policy;
        FilesMayLackWrites = filesMayLackWrites;
    }

    public string Path { get; }

    public string SlicesPath => System.IO.Path.Combine(Path, "slices");

    public NodeId NodeId { get; }

    /// <summary>Grows by one on every start, so peers can tell a restarted node from its old self.</summary>
    public long Incarnation { get; }

    /// <summary>
    /// The files may lack writes the node acknowledged: it last ran in another boot of the machine
    /// with an FsyncPolicy other than Always and did not stop cleanly (the machine went down
    /// under it), or it had not yet given up the copies that lack them (<see cref="MarkRunning"/>)
    /// when it stopped. Until then the run file says so, whatever happens next.
    /// </summary>
    public bool FilesMayLackWrites { get; }

    /// <summary>The node no longer serves copies that may lack writes: a crash from now on in this boot loses nothing.</summary>
    public void MarkRunning() => WriteRun(Path, _bootId, Running, _policy);

    /// <summary>Records a clean stop: the files hold everything the node took (call once they are flushed and synced, and never while <see cref="FilesMayLackWrites"/> is not yet settled).</summary>
    public void MarkStopped() => WriteRun(Path, _bootId, Stopped, _policy);

    private const string Running = "running";
    private const string Stopped = "stopped";
    private const string Suspect = "suspect";

    /// <summary>Creates or opens the directory, takes its lock and bumps the incarnation.</summary>
    /// <exception cref="InvalidOperationException">The directory cannot be created or written, or another node holds it.</exception>
    /// <param name="configuredPath">SmdSs:DataDirectory.</param>
    /// <param name="bootId">The machine boot this process runs in (<see cref="MachineBoot.CurrentId"/>).</param>
    /// <param name="policy">SmdSs:FsyncPolicy, recorded for the next start to judge what a machine failure may have lost.</param>
    public static NodeDataDirectory Open(string configuredPath, string bootId, FsyncPolicy policy)
    {
        string path = System.IO.Path.GetFullPath(configuredPath);
        if (PrivateFiles.Refusal(path) is { } refusal)
        {
            throw new InvalidOperationException($"SmdSs:DataDirectory '{path}' is refused: {refusal}.");
        }

        FileStream lockStream;
        try
        {
            PrivateFiles.CreateDirectory(path);
            lockStream = PrivateFiles.Open(System.IO.Path.Combine(path, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (File.Exists(System.IO.Path.Combine(path, LockFile)))
        {
            throw new InvalidOperationException($"SmdSs:DataDirectory '{path}' is in use by another SMD-SS node ({ex.Message}).", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"SmdSs:DataDirectory '{path}' cannot be created or written: {ex.Message}", ex);
        }

        try
        {
            // Files an older release left readable by others become the node's alone.
            PrivateFiles.Tighten(path);
            (NodeId id, long incarnation) = ReadIdentity(path);
            WriteIdentity(path, id, incarnation + 1);
            PrivateFiles.CreateDirectory(System.IO.Path.Combine(path, "slices"));
            // No run file: a new directory, or one of a release before it (nothing to tell).
            bool mayLack = ReadRun(path) is { } last
                && (last.State == Suspect || (last.State == Running && last.Policy != nameof(FsyncPolicy.Always) && !MachineBoot.Same(last.BootId, bootId)));
            WriteRun(path, bootId, mayLack ? Suspect : Running, policy);
            return new NodeDataDirectory(path, lockStream, id, incarnation + 1, bootId, policy, mayLack);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            lockStream.Dispose();
            throw new InvalidOperationException($"SmdSs:DataDirectory '{path}' cannot be used: {ex.Message}", ex);
        }
    }

    public void Dispose() => _lock.Dispose();

    private static (NodeId Id, long Incarnation) ReadIdentity(string path)
    {
        string file = System.IO.Path.Combine(path, IdentityFile);
        if (!File.Exists(file))
        {
            return (NodeId.NewRandom(Random.Shared), 0);
        }

        string[] parts = File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != 2)
        {
            throw new FormatException($"'{file}' must hold a node id and an incarnation.");
        }

        return (NodeId.Parse(parts[0]), long.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    private static void WriteIdentity(string path, NodeId id, long incarnation) =>
        WriteSynced(System.IO.Path.Combine(path, IdentityFile), string.Create(CultureInfo.InvariantCulture, $"{id} {incarnation}\n"));

    // A run file that cannot be read (damaged) says nothing either: as if there were none.
    private static (string BootId, string State, string Policy)? ReadRun(string path)
    {
        string file = System.IO.Path.Combine(path, RunFile);
        if (!File.Exists(file))
        {
            return null;
        }

        string[] parts;
        try
        {
            parts = File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        catch (IOException)
        {
            return null;
        }

        return parts.Length == 3 ? (parts[0], parts[1], parts[2]) : null;
    }

    private static void WriteRun(string path, string bootId, string state, FsyncPolicy policy) =>
        WriteSynced(System.IO.Path.Combine(path, RunFile), $"{bootId} {state} {policy}\n");

    private static void WriteSynced(string file, string content) =>
        SyncedFile.Write(OsDisk.Instance, file, System.Text.Encoding.ASCII.GetBytes(content));
}
