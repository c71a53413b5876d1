using System.Text;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// The three samples/WebFarm processes of the cluster: the first starts a cluster on its own,
/// the other two join through it. Disposing kills them all.
/// </summary>
internal sealed class FarmProcesses : IDisposable
{
    public const int Count = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly List<FarmProcess> _processes = [];

    private FarmProcesses()
    {
    }

    public IReadOnlyList<FarmProcess> Processes => _processes;

    /// <summary>The cluster endpoint other nodes join through.</summary>
    public string FirstEndpoint => _processes[0].ClusterEndpoint;

    /// <summary>
    /// Starts the processes, each with a data directory under <paramref name="workDirectory"/>
    /// and <paramref name="clusterSecret"/> (null: none, frames in clear), each writing its pid file to
    /// <paramref name="pids"/> (where run.sh looks for leftovers), and waits until each answers /health.
    /// </summary>
    public static async Task<FarmProcesses> StartAsync(string workDirectory, string pids, string? clusterSecret, CancellationToken cancellationToken)
    {
        string dll = WebFarmDll();
        var farm = new FarmProcesses();
        try
        {
            for (int i = 0; i < Count; i++)
            {
                string? friend = i == 0 ? null : farm.FirstEndpoint;
                var process = new FarmProcess($"n{i}", dll, Path.Combine(workDirectory, $"n{i}"), pids, friend, clusterSecret);
                farm._processes.Add(process);
                process.Start();
                Progress.Line($"  started {process.Name}: {process.CommandLine}");
                // The others join through n0, so n0 must be up first.
                if (i == 0)
                {
                    await process.WaitHealthyAsync(StartTimeout, cancellationToken).ConfigureAwait(false);
                }
            }

            await Task.WhenAll(farm._processes.Skip(1).Select(p => p.WaitHealthyAsync(StartTimeout, cancellationToken))).ConfigureAwait(false);
            return farm;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            string output = farm.DescribeOutput(60);
            farm.Dispose();
            throw new InvalidOperationException($"The WebFarm processes did not start: {ex.Message}{Environment.NewLine}{output}", ex);
        }
        catch
        {
            farm.Dispose();
            throw;
        }
    }

    /// <summary>Each process's command line and last output lines, for a failure message.</summary>
    public string DescribeOutput(int lines)
    {
        var text = new StringBuilder();
        foreach (FarmProcess process in _processes)
        {
            text.AppendLine($"--- {process.Name}: {process.CommandLine}").AppendLine(process.OutputTail(lines));
        }

        return text.ToString();
    }

    public void Dispose()
    {
        foreach (FarmProcess process in _processes)
        {
            process.Dispose();
        }

        _processes.Clear();
    }

    private static string WebFarmDll()
    {
        string dll = Path.Combine(BenchmarkSettings.RepositoryRoot(), "samples", "WebFarm", "bin", "Release", "net10.0", "WebFarm.dll");
        return File.Exists(dll) ? dll
            : throw new FileNotFoundException("Build samples/WebFarm in Release first (run.sh does: dotnet build samples/WebFarm -c Release).", dll);
    }
}
