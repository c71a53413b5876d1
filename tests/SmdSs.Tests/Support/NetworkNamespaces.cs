using System.Diagnostics;
using System.Globalization;

namespace SmdSs.Tests.Support;

/// <summary>
/// A real network for node processes: one Linux network namespace per node, each linked by a
/// veth pair to a bridge in the test's namespace (10.77.x.0/24; the test reaches every node
/// through the bridge). <see cref="Cut"/> takes a node's link down: a real partition, for the
/// cluster and the test alike; <see cref="Heal"/> brings it back. Needs root and iproute2.
/// </summary>
internal sealed class NetworkNamespaces : IDisposable
{
    private readonly string _tag = Random.Shared.Next(0x1000, 0xFFFF).ToString("x4", CultureInfo.InvariantCulture);
    private readonly int _subnet = Random.Shared.Next(10, 250);
    private readonly int _count;

    public NetworkNamespaces(int count)
    {
        _count = count;
        try
        {
            Ip($"link add {Bridge} type bridge");
            Ip($"addr add 10.77.{_subnet}.1/24 dev {Bridge}");
            Ip($"link set {Bridge} up");
            for (int i = 0; i < count; i++)
            {
                Ip($"netns add {Namespace(i)}");
                Ip($"link add {Link(i)} type veth peer name eth0 netns {Namespace(i)}");
                Ip($"link set {Link(i)} master {Bridge}");
                Ip($"link set {Link(i)} up");
                Ip($"-n {Namespace(i)} addr add {Address(i)}/24 dev eth0");
                Ip($"-n {Namespace(i)} link set eth0 up");
                Ip($"-n {Namespace(i)} link set lo up");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private string Bridge => "smdbr" + _tag;

    public string Namespace(int node) => $"smd{_tag}n{node}";

    public string Address(int node) => $"10.77.{_subnet}.{10 + node}";

    private string Link(int node) => $"smd{_tag}v{node}";

    /// <summary>Cuts the node off from every other node and from the test.</summary>
    public void Cut(int node) => Ip($"link set {Link(node)} down");

    public void Heal(int node) => Ip($"link set {Link(node)} up");

    public void Dispose()
    {
        for (int i = 0; i < _count; i++)
        {
            TryIp($"netns del {Namespace(i)}");
        }

        TryIp($"link del {Bridge}");
    }

    private static void Ip(string arguments)
    {
        (int code, string output) = Run(arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"ip {arguments} failed ({code}): {output} — these tests need root and iproute2 (apt-get install iproute2).");
        }
    }

    private static void TryIp(string arguments) => Run(arguments);

    private static (int Code, string Output) Run(string arguments)
    {
        var start = new ProcessStartInfo("ip", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Trim());
    }
}
