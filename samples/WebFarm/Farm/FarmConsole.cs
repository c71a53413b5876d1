namespace WebFarm.Farm;

/// <summary>The launcher's console: whole lines only, so the nodes' output and its own never interleave mid-line.</summary>
internal static class FarmConsole
{
    private static readonly Lock Gate = new();

    public static void WriteLine(string line)
    {
        lock (Gate)
        {
            Console.Out.WriteLine(line);
        }
    }

    /// <summary>A node's output line, prefixed with its name.</summary>
    public static void WriteLine(string source, string line) => WriteLine($"[{source}] {line}");
}
