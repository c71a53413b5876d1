using System.Globalization;

namespace WebFarm.Farm;

/// <summary>
/// The launcher's command line: <c>farm [--nodes N] [--port P] [--cluster-port C] [--data DIR] [--SmdSs:Option=value ...]</c>.
/// The load balancer listens on P and node i (1..N) on P+i for HTTP and on C+i for its peers.
/// </summary>
internal sealed record FarmOptions
{
    public const string Usage = """
        Usage: WebFarm farm [options] [--SmdSs:Option=value ...]
          --nodes N          nodes to start (default 3)
          --port P           load balancer on http://127.0.0.1:P, node i on P+i (default 5000)
          --cluster-port C   node i listens for its peers on 127.0.0.1:C+i (default 7400)
          --data DIR         node i keeps its data in DIR/n<i> and its log in DIR/n<i>.log
                             (default data, under the working directory)
          --SmdSs:...        passed to every node, for example --SmdSs:FailureDetectionTimeout=00:00:02
        """;

    public int Nodes { get; init; } = 3;

    public int Port { get; init; } = 5000;

    public int ClusterPort { get; init; } = 7400;

    public string DataDirectory { get; init; } = "data";

    /// <summary>
    /// The cluster secret every node gets (in its environment, not on its command line, where
    /// other local users could read it): the launcher's own <c>SmdSs__ClusterSecret</c>, or a new
    /// random key for each run of the farm. A <c>--SmdSs:ClusterSecret=...</c> setting overrides it.
    /// </summary>
    public string ClusterSecret { get; init; } =
        Environment.GetEnvironmentVariable("SmdSs__ClusterSecret") is { Length: > 0 } given
            ? given
            : Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>Settings given to every node as they are (<c>--SmdSs:...</c>).</summary>
    public IReadOnlyList<string> NodeSettings { get; init; } = [];

    /// <summary>Parses <paramref name="args"/>; throws <see cref="FormatException"/> naming the bad argument.</summary>
    public static FarmOptions Parse(IReadOnlyList<string> args)
    {
        var options = new FarmOptions();
        List<string> settings = [];
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg.StartsWith("--SmdSs:", StringComparison.OrdinalIgnoreCase))
            {
                settings.Add(arg);
                continue;
            }

            // --name value or --name=value
            string name = arg;
            string? value = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }

            options = name switch
            {
                "--nodes" => options with { Nodes = Number(name, value, 1, 64) },
                "--port" => options with { Port = Number(name, value, 1, 65_535) },
                "--cluster-port" => options with { ClusterPort = Number(name, value, 1, 65_535) },
                "--data" => options with { DataDirectory = string.IsNullOrWhiteSpace(value) ? throw new FormatException("--data needs a directory.") : value },
                _ => throw new FormatException($"Unknown argument '{arg}'."),
            };
        }

        options = options with { NodeSettings = settings };
        if (options.Port + options.Nodes > 65_535 || options.ClusterPort + options.Nodes > 65_535)
        {
            throw new FormatException($"--port and --cluster-port plus --nodes ({options.Nodes}) must stay below 65536.");
        }

        return options;
    }

    public static string NodeName(int index) => "n" + index.ToString(CultureInfo.InvariantCulture);

    public int NodeHttpPort(int index) => Port + index;

    public int NodeClusterPort(int index) => ClusterPort + index;

    public string NodeDataDirectory(int index) => Path.GetFullPath(Path.Combine(DataDirectory, NodeName(index)));

    /// <summary>The node's whole output; beside its data directory, which the node locks as its own.</summary>
    public string NodeLogFile(int index) => Path.GetFullPath(Path.Combine(DataDirectory, NodeName(index) + ".log"));

    private static int Number(string name, string? value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
            ? n
            : throw new FormatException($"{name} needs a number from {min} to {max}, not '{value}'.");
}
