using System.Globalization;
using System.Text;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// The cluster benchmark's results: the facts of the run, the table (Redis as the baseline),
/// the three ratios against their aims, and warnings; printed and written as Markdown.
/// </summary>
internal sealed class ClusterReport(RunTiming timing, CallStyle calls)
{
    public const string LocalGet = "SMD-SS local";
    public const string RemoteGet = "SMD-SS remote";
    public const string ClusterSet = "SMD-SS";
    public const string SetPrimaryHere = "SMD-SS, primary here";
    public const string SetPrimaryElsewhere = "SMD-SS, primary elsewhere";
    public const string RemoteGetClear = "SMD-SS remote, in clear";
    public const string ClusterSetClear = "SMD-SS, in clear";
    public const string Redis = "Redis";

    private static readonly string[] SubjectOrder = [LocalGet, RemoteGet, ClusterSet, SetPrimaryHere, SetPrimaryElsewhere, RemoteGetClear, ClusterSetClear, Redis];

    /// <summary>How the run was set up: printed before the table.</summary>
    public List<string> Facts { get; } = [];

    /// <summary>What explains the numbers (CPU use, where reads were answered): printed after the ratios.</summary>
    public List<string> Notes { get; } = [];

    public List<ScenarioResult> Results { get; } = [];

    public List<string> Warnings { get; } = [];

    public void Print()
    {
        Console.WriteLine();
        foreach (string line in MarkdownReport.DescribeMachine(timing).Concat(Facts))
        {
            Console.WriteLine(line);
        }

        Console.WriteLine();
        Console.Write(Table().ToText());
        Console.WriteLine();
        foreach (string line in Ratios())
        {
            Console.WriteLine(line);
        }

        Console.WriteLine();
        foreach (string line in Notes)
        {
            Console.WriteLine(line);
        }

        foreach (string warning in AllWarnings())
        {
            Console.WriteLine("Warning: " + warning);
        }
    }

    public void Write(string path)
    {
        var text = new StringBuilder();
        text.AppendLine("# SMD-SS benchmark: IDistributedCache on a 4-node cluster vs RedisCache").AppendLine();
        foreach (string line in MarkdownReport.DescribeMachine(timing).Concat(Facts))
        {
            text.AppendLine("- " + line);
        }

        text.AppendLine().Append(Table().ToMarkdown()).AppendLine();
        foreach (string line in Ratios())
        {
            text.AppendLine("- " + line);
        }

        text.AppendLine().AppendLine("Context:").AppendLine();
        foreach (string line in Notes)
        {
            text.AppendLine("- " + line);
        }

        text.AppendLine();
        text.AppendLine("SMD-SS local: Get of a key whose slice lists the embedded node as an in-sync replica (answered from its");
        text.AppendLine("own memory under a read lease). SMD-SS remote: Get of a key whose slice it does not hold (forwarded to the");
        text.AppendLine("slice's primary in another process, one round trip). SMD-SS Set: goes to the slice's primary (here or one");
        text.AppendLine("round trip away), which writes it and waits for both other replicas; the two rows below it split the same");
        text.AppendLine("Set by where the key's primary is (diagnostic). Every SMD-SS row above them runs sealed (a cluster secret: AES-GCM");
        text.AppendLine("on every frame between nodes); the two \"in clear\" rows run the same remote Get and Set on a second cluster");
        text.AppendLine("started with no secret, for the cost of sealing. ops/s counts calls of all callers");
        text.AppendLine("together; latency is per call as the caller sees it, time waiting for a CPU included.");
        text.AppendLine(calls == CallStyle.Async
            ? "alloc B/op is what this whole process allocated per call (the embedded node's and the Redis client's background work included)."
            : "alloc B/op counts only the calling thread: work on I/O threads (forwarding, StackExchange.Redis) is not in it.");
        foreach (string warning in AllWarnings())
        {
            text.AppendLine().AppendLine("**Warning:** " + warning);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ToString());
    }

    /// <summary>The three ratios the cluster mode exists for, each with its aim.</summary>
    public IEnumerable<string> Ratios() =>
    [
        Ratio("local Get / Redis Get", LocalGet, CacheOperation.Get, 15),
        Ratio("remote Get / Redis Get", RemoteGet, CacheOperation.Get, 0.8),
        Ratio("Set / Redis Set", ClusterSet, CacheOperation.Set, 0.5),
        Cost("sealed / in clear, remote Get", RemoteGet, RemoteGetClear, CacheOperation.Get),
        Cost("sealed / in clear, Set", ClusterSet, ClusterSetClear, CacheOperation.Set),
    ];

    /// <summary>What sealing costs: throughput and CPU per operation of the sealed row against its clear twin.</summary>
    private string Cost(string label, string sealedSubject, string clearSubject, CacheOperation operation)
    {
        ScenarioResult? sealedResult = Results.FirstOrDefault(r => r.Subject == sealedSubject && r.Scenario.Operation == operation);
        ScenarioResult? clear = Results.FirstOrDefault(r => r.Subject == clearSubject && r.Scenario.Operation == operation);
        if (sealedResult is null || clear is null || clear.OperationsPerSecond == 0)
        {
            return $"{label}: n/a (not measured)";
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{label}: {sealedResult.OperationsPerSecond / clear.OperationsPerSecond:0.00}x throughput; p50 {sealedResult.P50Microseconds:0.0} vs {clear.P50Microseconds:0.0} µs, p99 {sealedResult.P99Microseconds:0.0} vs {clear.P99Microseconds:0.0} µs");
    }

    private ResultTable Table() => new(Results, SubjectOrder, Redis);

    private string Ratio(string label, string subject, CacheOperation operation, double aim)
    {
        ScenarioResult? smdss = Results.FirstOrDefault(r => r.Subject == subject && r.Scenario.Operation == operation);
        ScenarioResult? redis = Results.FirstOrDefault(r => r.Subject == Redis && r.Scenario.Operation == operation);
        if (smdss is null || redis is null || redis.OperationsPerSecond == 0)
        {
            return $"{label}: n/a (not measured)";
        }

        double ratio = smdss.OperationsPerSecond / redis.OperationsPerSecond;
        return string.Create(CultureInfo.InvariantCulture,
            $"{label}: {ratio:0.00}x throughput (aim >= {aim:0.0#}x: {(ratio >= aim ? "met" : "NOT met")}); p50 {smdss.P50Microseconds:0.0} vs {redis.P50Microseconds:0.0} µs, p99 {smdss.P99Microseconds:0.0} vs {redis.P99Microseconds:0.0} µs");
    }

    private IEnumerable<string> AllWarnings() =>
        Warnings.Concat(Results.Where(r => r.Misses > 0).Select(r => $"{r.Subject} {r.Scenario}: {r.Misses:N0} Gets missed; its numbers are not comparable."));
}
