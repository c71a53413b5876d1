using System.Collections.Concurrent;
using System.Text;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Compute;

/// <summary>GetOrAdd under a stampede from every node of a 3-node cluster: one factory run per key in the whole cluster.</summary>
[Collection(ClusterTestGroup.Name)]
public sealed class GetOrAddStampedeTests
{
    private const int Nodes = 3;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_factory_runs_once_in_the_cluster_and_every_caller_gets_its_value()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(Nodes);
        await cluster.WaitSettledAsync();
        const int callers = Nodes * 20;
        var stampede = new Stampede(callers);
        int factoryCalls = 0;

        async ValueTask<byte[]> Factory(CancellationToken cancellationToken)
        {
            int call = Interlocked.Increment(ref factoryCalls);
            await stampede.AllStarted.WaitAsync(Deadline, cancellationToken);
            return Encoding.UTF8.GetBytes($"made by call {call}");
        }

        byte[][] values = await stampede.RunAsync(c => cluster.Node(c % Nodes).GetOrAddAsync("report:2026", Factory));

        Assert.Equal(1, factoryCalls);
        Assert.All(values, v => Assert.Equal("made by call 1", Encoding.UTF8.GetString(v)));
        for (int node = 0; node < Nodes; node++)
        {
            Assert.Equal("made by call 1", await cluster.Node(node).GetStringAsync("report:2026"));
        }

        // The key is there now: later callers get it without running their factory.
        Assert.Equal("made by call 1", Encoding.UTF8.GetString(await cluster.Node(2).GetOrAddAsync("report:2026", Factory)));
        Assert.Equal(1, factoryCalls);
    }

    [Fact]
    public async Task When_the_factory_throws_its_caller_gets_the_exception_and_one_other_caller_makes_the_value_for_the_rest()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(Nodes);
        await cluster.WaitSettledAsync();
        const int callers = Nodes * 10;
        var stampede = new Stampede(callers);
        int factoryCalls = 0;

        async ValueTask<byte[]> Factory(CancellationToken cancellationToken)
        {
            int call = Interlocked.Increment(ref factoryCalls);
            await stampede.AllStarted.WaitAsync(Deadline, cancellationToken);
            return call == 1 ? throw new FormatException("the first factory failed") : Encoding.UTF8.GetBytes($"made by call {call}");
        }

        (byte[]? Value, Exception? Error)[] outcomes = await stampede.RunAsync<(byte[]?, Exception?)>(async c =>
        {
            try
            {
                return ((byte[]?)await cluster.Node(c % Nodes).GetOrAddAsync("flaky", Factory), (Exception?)null);
            }
            catch (FormatException ex)
            {
                return (null, ex);
            }
        });

        Exception error = Assert.Single(outcomes, o => o.Error is not null).Error!;
        Assert.Equal("the first factory failed", error.Message);
        Assert.Equal(2, factoryCalls);
        Assert.All(outcomes.Where(o => o.Error is null), o => Assert.Equal("made by call 2", Encoding.UTF8.GetString(o.Value!)));
        for (int node = 0; node < Nodes; node++)
        {
            Assert.Equal("made by call 2", await cluster.Node(node).GetStringAsync("flaky"));
        }
    }

    [Fact]
    public async Task Different_keys_have_independent_flights_each_factory_runs_once()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(Nodes);
        await cluster.WaitSettledAsync();
        string[] keys = ["page:home", "page:about", "page:shop", "page:cart", "page:help"];
        const int callersPerKey = Nodes * 4;
        var stampede = new Stampede(keys.Length * callersPerKey);
        var calls = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);

        Func<CancellationToken, ValueTask<byte[]>> FactoryOf(string key) => async cancellationToken =>
        {
            calls.AddOrUpdate(key, 1, (_, n) => n + 1);
            await stampede.AllStarted.WaitAsync(Deadline, cancellationToken);
            return Encoding.UTF8.GetBytes("content of " + key);
        };

        (string Key, byte[] Value)[] values = await stampede.RunAsync<(string, byte[])>(async c =>
        {
            string key = keys[c % keys.Length];
            return (key, await cluster.Node(c % Nodes).GetOrAddAsync(key, FactoryOf(key)));
        });

        foreach (string key in keys)
        {
            Assert.Equal(1, calls.GetValueOrDefault(key));
        }

        Assert.All(values, v => Assert.Equal("content of " + v.Key, Encoding.UTF8.GetString(v.Value)));
    }

    /// <summary>
    /// Starts every caller at once (they wait on one signal) and opens <see cref="AllStarted"/>
    /// when the last has started, so that a factory awaiting it holds its claim while the others
    /// pile up behind it, with no sleep.
    /// </summary>
    private sealed class Stampede(int callers)
    {
        private readonly TaskCompletionSource _go = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _allStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _started;

        public Task AllStarted => _allStarted.Task;

        public async Task<T[]> RunAsync<T>(Func<int, ValueTask<T>> caller)
        {
            Task<T>[] tasks = [.. Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
            {
                await _go.Task;
                ValueTask<T> call = caller(c); // runs up to its first wait: the call is under way
                if (Interlocked.Increment(ref _started) == callers)
                {
                    _allStarted.TrySetResult();
                }

                return await call;
            }))];
            _go.SetResult();
            return await Task.WhenAll(tasks).WaitAsync(Deadline);
        }
    }
}
