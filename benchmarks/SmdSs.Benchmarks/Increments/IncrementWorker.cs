using System.Globalization;

namespace SmdSs.Benchmarks.Increments;

/// <summary>
/// The worker side of the --increments mode: this executable started by the harness with
/// <c>--increment-worker smdss --data DIR [--listen HOST:PORT] [--friend HOST:PORT]</c> or
/// <c>--increment-worker redis --redis HOST:PORT</c>. It answers one line on stdout for each
/// command line on stdin (<see cref="WorkerProtocol"/>); logs go to stderr. It stops its store
/// and exits on QUIT or when stdin closes (the harness died).
/// </summary>
internal static class IncrementWorker
{
    public const string Flag = "--increment-worker";

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        if (Create(args, out string? error) is not { } store)
        {
            Console.Error.WriteLine(error);
            return 2;
        }

        await using (store.ConfigureAwait(false))
        {
            string started;
            try
            {
                started = await store.StartAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Reply(WorkerProtocol.Error, ex.ToString());
                return 1;
            }

            Reply(WorkerProtocol.Ready, started);
            while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (line == WorkerProtocol.Quit)
                {
                    break;
                }

                try
                {
                    Console.Out.WriteLine(await AnswerAsync(store, line.Split(' ')).ConfigureAwait(false));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Reply(WorkerProtocol.Error, ex.ToString());
                }
            }
        }

        // After the store stopped: the harness waits for this before it deletes the data directory.
        Reply(WorkerProtocol.Bye, "");
        return 0;
    }

    private static async Task<string> AnswerAsync(ICounterStore store, string[] command)
    {
        switch (command)
        {
            case [WorkerProtocol.Status]:
                return WorkerProtocol.Status + " " + (store.StatusJson() ?? "null");
            case [WorkerProtocol.Reset, string prefix, string count]:
                await store.ResetAsync(IncrementScenario.Keys(prefix, Int(count)), CancellationToken.None).ConfigureAwait(false);
                return WorkerProtocol.Ok;
            case [WorkerProtocol.Sum, string prefix, string count]:
                long sum = await store.SumAsync(IncrementScenario.Keys(prefix, Int(count)), CancellationToken.None).ConfigureAwait(false);
                return WorkerProtocol.Sum + " " + sum.ToString(CultureInfo.InvariantCulture);
            case [WorkerProtocol.Run, string prefix, string count, string callers, string startAtMs, string warmupMs, string measureMs]:
                ReadyThreadPool(Int(callers));
                var timing = new RunTiming(TimeSpan.FromMilliseconds(Int(warmupMs)), TimeSpan.FromMilliseconds(Int(measureMs)));
                var load = new IncrementLoad(store, IncrementScenario.Keys(prefix, Int(count)), Int(callers), timing);
                WorkerTally tally = await load.RunAsync(DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(startAtMs, CultureInfo.InvariantCulture)), CancellationToken.None).ConfigureAwait(false);
                return tally.ToLine();
            default:
                throw new FormatException("Unknown command: " + string.Join(' ', command));
        }
    }

    private static ICounterStore? Create(IReadOnlyList<string> args, out string? error)
    {
        error = null;
        string? kind = args.Count > 0 ? args[0] : null;
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i + 1 < args.Count; i += 2)
        {
            named[args[i]] = args[i + 1];
        }

        switch (kind)
        {
            case "redis" when named.TryGetValue("--redis", out string? endpoint):
                return new RedisCounterStore(endpoint);
            case "smdss" when named.TryGetValue("--data", out string? data):
                return new SmdSsCounterStore(named.GetValueOrDefault("--listen", "127.0.0.1:0"), data, named.GetValueOrDefault("--friend"));
            default:
                error = $"Usage: {Flag} smdss --data DIR [--listen HOST:PORT] [--friend HOST:PORT] | {Flag} redis --redis HOST:PORT";
                return null;
        }
    }

    /// <summary>A thread per caller ready, as the cluster benchmark does for its own callers.</summary>
    private static void ReadyThreadPool(int callers)
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, callers + Environment.ProcessorCount), io);
    }

    private static void Reply(string token, string text) =>
        Console.Out.WriteLine(text.Length == 0 ? token : token + " " + WorkerTally.OneLine(text));

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);
}
