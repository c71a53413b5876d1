using System.Security.Cryptography;
using System.Text;

namespace SmdSs.AspNetCore.Dashboard;

/// <summary>
/// The dashboard page: one self-contained HTML file (inline SVG, CSS and vanilla JavaScript;
/// nothing from the network), embedded in this assembly. Its script polls
/// <c>dashboard.json</c> beside the page once a second. The Content-Security-Policy sent with it
/// allows exactly that script (by hash) and requests to this origin only.
/// </summary>
internal static class DashboardPage
{
    private const string ResourceName = "SmdSs.AspNetCore.Dashboard.dashboard.html";

    public static string Html { get; } = Load();

    public static string ContentSecurityPolicy { get; } =
        $"default-src 'none'; script-src '{ScriptHash(Html)}'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static string Load()
    {
        using Stream stream = typeof(DashboardPage).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from the build.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The CSP source for the page's one inline script: sha256 of its exact text.</summary>
    private static string ScriptHash(string html)
    {
        int open = html.IndexOf("<script>", StringComparison.Ordinal) + "<script>".Length;
        int close = html.IndexOf("</script>", open, StringComparison.Ordinal);
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(html[open..close]));
        return "sha256-" + Convert.ToBase64String(hash);
    }
}
