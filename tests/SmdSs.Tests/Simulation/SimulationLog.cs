using System.Diagnostics;

namespace SmdSs.Tests.Simulation;

/// <summary>The steps a run took, with their times (the same clock as the write model's history), for the failure message.</summary>
internal sealed class SimulationLog(Stopwatch clock)
{
    private readonly List<string> _steps = [];

    public void Add(string step)
    {
        lock (_steps)
        {
            _steps.Add($"+{clock.ElapsedMilliseconds}ms {step}");
        }
    }

    public override string ToString()
    {
        lock (_steps)
        {
            return string.Join("; ", _steps);
        }
    }
}
