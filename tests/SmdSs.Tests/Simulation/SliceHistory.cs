using System.Collections.Concurrent;
using System.Diagnostics;
using SmdSs.Model;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Simulation;

/// <summary>
/// Samples every running node's slice map every 20 ms and keeps each change of each slice's
/// record as that node saw it (for the failure message of a lost write: which record won where).
/// Records that lived less than a sample may be missed.
/// </summary>
internal sealed class SliceHistory : IAsyncDisposable
{
    private readonly InProcessCluster _cluster;
    private readonly Stopwatch _clock;
    private readonly ConcurrentDictionary<(int Node, uint Start), PieSlice> _last = new();
    private readonly ConcurrentQueue<(uint Start, string Line)> _changes = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public SliceHistory(InProcessCluster cluster, Stopwatch clock)
    {
        _cluster = cluster;
        _clock = clock;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Every change of the record of the slice holding <paramref name="hash"/>, as each node saw it.</summary>
    public string Of(uint hash)
    {
        uint start = _last.Values.Where(s => s.Range.Start <= hash && hash <= s.Range.End).Select(s => s.Range.Start).FirstOrDefault();
        return string.Join("\n", _changes.Where(c => c.Start == start).Select(c => c.Line));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            foreach (int node in _cluster.Running.ToList())
            {
                try
                {
                    if (_cluster.Node(node).SliceMap is { } map)
                    {
                        Note(node, map);
                    }
                }
                catch (Exception ex) when (ex is NullReferenceException or ObjectDisposedException)
                {
                    // Crashed by the schedule between the listing and the look.
                }
            }

            await Task.Delay(20, _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void Note(int node, SliceMap map)
    {
        foreach (PieSlice slice in map.Slices)
        {
            var key = (node, slice.Range.Start);
            if (!_last.TryGetValue(key, out PieSlice? last) || !last.ContentEquals(slice))
            {
                _last[key] = slice;
                string replicas = string.Join(",", slice.Replicas.Select(r => r.ToString()[..4]));
                string inSync = string.Join(",", slice.InSync.Select(r => r.ToString()[..4]));
                _changes.Enqueue((slice.Range.Start, $"+{_clock.ElapsedMilliseconds}ms node {node} sees e{slice.Epoch} replicas[{replicas}] insync[{inSync}]"));
            }
        }
    }
}
