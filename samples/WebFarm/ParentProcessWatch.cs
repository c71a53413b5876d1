using System.Diagnostics;

namespace WebFarm;

/// <summary>
/// Stops this farm member when the process that started it is gone (<c>--parent-pid=N</c>, which
/// the farm launcher passes): a launcher killed hard leaves no node running behind it. Checks
/// once a second; a reused process id is told apart by the process's start time.
/// </summary>
internal sealed partial class ParentProcessWatch(IConfiguration configuration, IHostApplicationLifetime lifetime, ILogger<ParentProcessWatch> logger) : BackgroundService
{
    public const string ConfigurationKey = "parent-pid";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!int.TryParse(configuration[ConfigurationKey], out int parentId))
        {
            return;
        }

        DateTime? started = StartTime(parentId);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (started is not null && StartTime(parentId) == started)
        {
            if (!await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                return;
            }
        }

        ParentGone(logger, parentId);
        lifetime.StopApplication();
    }

    private static DateTime? StartTime(int processId)
    {
        try
        {
            using Process process = Process.GetProcessById(processId);
            return process.HasExited ? null : process.StartTime;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "The parent process {ParentId} is gone; stopping.")]
    private static partial void ParentGone(ILogger logger, int parentId);
}
