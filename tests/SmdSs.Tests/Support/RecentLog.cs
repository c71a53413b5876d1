using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace SmdSs.Tests.Support;

/// <summary>
/// Keeps the last lines the nodes of an <see cref="InProcessCluster"/> logged, each with its time
/// on the test's clock and the node's index, to be written out when a test fails.
/// </summary>
internal sealed class RecentLog(Stopwatch clock, int capacity = 50_000)
{
    private readonly ConcurrentQueue<string> _lines = new();

    /// <summary>For <see cref="InProcessCluster.LogTo"/>.</summary>
    public ILoggerProvider For(int node) => new Provider(this, node);

    /// <summary>Writes the lines to a file in the temp folder and returns its path.</summary>
    public string Save(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), "smdss-tests", name + ".log");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllLines(path, _lines);
        return path;
    }

    /// <summary>The last <paramref name="count"/> lines, oldest first.</summary>
    public IEnumerable<string> Tail(int count) => _lines.Skip(Math.Max(0, _lines.Count - count));

    private void Add(int node, string line)
    {
        _lines.Enqueue($"+{clock.ElapsedMilliseconds}ms node {node}: {line}");
        while (_lines.Count > capacity && _lines.TryDequeue(out _))
        {
        }
    }

    private sealed class Provider(RecentLog log, int node) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.Add(node, formatter(state, exception) + (exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})"));

        public void Dispose()
        {
        }
    }
}
