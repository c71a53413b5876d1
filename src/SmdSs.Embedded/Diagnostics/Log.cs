using Microsoft.Extensions.Logging;

namespace SmdSs.Diagnostics;

/// <summary>Every log event of the node, with stable event ids (1xx node, 2xx storage).</summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Information,
        "SMD-SS node {NodeId} (incarnation {Incarnation}) started in {ElapsedMs} ms: data directory {DataDirectory}, {Slices} slices, {Entries} entries loaded, {DiskBytes} bytes on disk, fsync {FsyncPolicy}")]
    public static partial void NodeStarted(
        ILogger logger, string nodeId, long incarnation, long elapsedMs, string dataDirectory, int slices, long entries, long diskBytes, FsyncPolicy fsyncPolicy);

    [LoggerMessage(101, LogLevel.Information, "SMD-SS node {NodeId} stopped: {Entries} entries flushed to {DataDirectory}")]
    public static partial void NodeStopped(ILogger logger, string nodeId, long entries, string dataDirectory);

    [LoggerMessage(102, LogLevel.Error, "SMD-SS background maintenance failed; it will retry")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception);

    [LoggerMessage(200, LogLevel.Warning,
        "Slice file {Path}: dropped {Bytes} damaged bytes at offset {Offset} ({Where}); records before and after it were kept")]
    public static partial void DamageDropped(ILogger logger, string path, long bytes, long offset, string where);

    [LoggerMessage(201, LogLevel.Information, "Slice file {Path} from an older slice layout: its records were moved to the current slices")]
    public static partial void OrphanAdopted(ILogger logger, string path);

    [LoggerMessage(202, LogLevel.Warning,
        "Memory use {UsedBytes} bytes is over SmdSs:MaxMemoryBytes {LimitBytes} with every value evicted: the keys alone need more; raise the limit")]
    public static partial void KeysOverMemoryLimit(ILogger logger, long usedBytes, long limitBytes);
}
