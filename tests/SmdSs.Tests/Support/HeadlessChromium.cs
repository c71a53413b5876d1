using Microsoft.Playwright;

namespace SmdSs.Tests.Support;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>, installed by <c>.ci/run</c>), headless, driven by
/// Playwright. Playwright's package carries its own driver (node) but no browser: this launches
/// the system binary, so nothing is downloaded and <c>playwright install</c> is never run.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    /// <summary>Names another Chromium binary (default: <c>/usr/bin/chromium</c>, then <c>chromium</c> on PATH).</summary>
    public const string PathVariable = "SMDSS_CHROMIUM";

    private readonly IPlaywright _playwright;

    private HeadlessChromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<HeadlessChromium> LaunchAsync()
    {
        string executable = FindExecutable();
        IPlaywright playwright = await Playwright.CreateAsync();
        try
        {
            IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = executable,
                Headless = true,

                // Tests run as root in a container: Chromium's sandbox needs user namespaces it may not have.
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            });
            return new HeadlessChromium(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>A page in a fresh context (its own cookies) of the given size.</summary>
    public async Task<IPage> NewPageAsync(int width = 1440, int height = 900)
    {
        IBrowserContext context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            DeviceScaleFactor = 1,
        });
        return await context.NewPageAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }

    private static string FindExecutable()
    {
        string? configured = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured)
                ? configured
                : throw new InvalidOperationException($"{PathVariable}={configured}: no such file. Unset it to use Debian's chromium, which .ci/run installs.");
        }

        string[] candidates =
        [
            "/usr/bin/chromium",
            .. (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
                .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Select(directory => Path.Combine(directory, "chromium")),
        ];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                "Chromium not found (looked for /usr/bin/chromium and chromium on PATH). The browser tests use Debian's " +
                "chromium package, which .ci/run installs (apt-get install chromium); or set " + PathVariable + " to a Chromium binary.");
    }
}
