using System.Diagnostics;
using System.Globalization;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// CPU time of a few named processes (this one, the WebFarm processes, redis-server) over a
/// span: on a machine with few CPUs it shows whether a scenario was bound by CPU, and where.
/// </summary>
internal sealed class CpuUsage
{
    private readonly List<(string Name, int Pid)> _processes = [("bench", Environment.ProcessId)];

    public void Add(string name, int pid) => _processes.Add((name, pid));

    private const string Machine = "machine";

    /// <summary>Each process's total CPU time now (processes that are gone are left out), and the whole machine's.</summary>
    public Dictionary<string, TimeSpan> Snapshot()
    {
        var times = new Dictionary<string, TimeSpan>();
        if (MachineBusy() is { } machine)
        {
            times[Machine] = machine;
        }

        foreach ((string name, int pid) in _processes)
        {
            try
            {
                using Process process = Process.GetProcessById(pid);
                times[name] = process.TotalProcessorTime;
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                // Exited.
            }
        }

        return times;
    }

    /// <summary>"bench 1.2, n0 0.3, ... = 1.9 of 2 CPUs": CPUs kept busy on average since <paramref name="before"/>.</summary>
    public string Describe(Dictionary<string, TimeSpan> before, TimeSpan wall)
    {
        Dictionary<string, TimeSpan> after = Snapshot();
        var busy = after.Where(a => before.ContainsKey(a.Key))
            .Select(a => (Name: a.Key, Cpus: (a.Value - before[a.Key]).TotalSeconds / wall.TotalSeconds))
            .ToList();
        var ours = busy.Where(b => b.Name != Machine).ToList();
        string text = string.Join(", ", ours.Select(b => string.Create(CultureInfo.InvariantCulture, $"{b.Name} {b.Cpus:0.00}")))
            + string.Create(CultureInfo.InvariantCulture, $" = {ours.Sum(b => b.Cpus):0.00} of {Environment.ProcessorCount} CPUs");
        return busy.FirstOrDefault(b => b.Name == Machine) is { Name: not null } machine
            ? text + string.Create(CultureInfo.InvariantCulture, $"; whole machine {machine.Cpus:0.00} busy")
            : text;
    }

    /// <summary>CPU time all processors spent not idle, from /proc/stat (Linux; null elsewhere).</summary>
    private static TimeSpan? MachineBusy()
    {
        if (!File.Exists("/proc/stat"))
        {
            return null;
        }

        // "cpu  user nice system idle iowait irq softirq steal ..." in 1/100 s.
        string[] fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long[] ticks = [.. fields.Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture))];
        long busy = ticks.Sum() - ticks[3] - ticks[4];
        return TimeSpan.FromSeconds(busy / 100.0);
    }
}
