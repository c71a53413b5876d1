using System.Globalization;

namespace SmdSs.Storage;

/// <summary>
/// Which boot of the machine this process runs in: the kernel's boot id on Linux; elsewhere the
/// time the machine started, to the minute. A change since the node last ran, with no clean stop
/// in between, means the machine went down (power loss, kernel crash, reset) and the files may
/// lack what they took but had not yet synced.
/// </summary>
internal static class MachineBoot
{
    private const string LinuxBootId = "/proc/sys/kernel/random/boot_id";

    public static string CurrentId()
    {
        try
        {
            if (File.Exists(LinuxBootId))
            {
                return "linux:" + File.ReadAllText(LinuxBootId).Trim();
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Read-protected (some sandboxes): the boot time below still tells a reboot.
        }

        long bootedAtMinute = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - Environment.TickCount64) / 60_000;
        return "booted:" + bootedAtMinute.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Whether two ids name the same boot (boot times a minute apart count as one: the clock may have been adjusted).</summary>
    public static bool Same(string a, string b)
    {
        if (a == b)
        {
            return true;
        }

        const string Booted = "booted:";
        return a.StartsWith(Booted, StringComparison.Ordinal) && b.StartsWith(Booted, StringComparison.Ordinal)
            && long.TryParse(a.AsSpan(Booted.Length), NumberStyles.Integer, CultureInfo.InvariantCulture, out long x)
            && long.TryParse(b.AsSpan(Booted.Length), NumberStyles.Integer, CultureInfo.InvariantCulture, out long y)
            && Math.Abs(x - y) <= 1;
    }
}
