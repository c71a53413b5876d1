using System.Net;
using System.Text;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Security;

/// <summary>
/// What crosses the wire, looked at with tcpdump on loopback: between nodes with a cluster secret
/// no key or value appears in clear; the same run with no secret shows both (the capture sees
/// the traffic, so the first check can fail).
/// </summary>
public sealed class WireCaptureTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Keys_and_values_cross_the_wire_only_sealed_when_the_cluster_has_a_secret(bool withSecret)
    {
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(2, o =>
        {
            if (!withSecret)
            {
                o.ClusterSecret = null;
            }
        });
        await cluster.WaitSettledAsync();
        string canary = "CANARY-" + Guid.NewGuid().ToString("N");
        byte[] value = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(canary + "-VALUE-", 20)));
        int[] ports = [.. Enumerable.Range(0, 2).Select(i => IPEndPoint.Parse(cluster.Node(i).Endpoint!).Port)];
        using var directory = new TempDirectory();

        await using LoopbackCapture capture = await LoopbackCapture.StartAsync(directory.Sub("wire.pcap"), ports);
        for (int i = 0; i < 10; i++)
        {
            // Every key is written on one node and read on the other: each crosses the wire at least once.
            string key = $"{canary}-KEY-{i}";
            await cluster.Node(i % 2).SetAsync(key, value);
            Assert.Equal(value, await cluster.Node(1 - (i % 2)).GetAsync(key));
        }

        byte[] wire = await capture.StopAsync(expectedBytes: 20L * value.Length);
        Assert.True(wire.Length > 10 * value.Length, $"the capture holds {wire.Length} bytes: it missed the traffic ({capture.Errors})");
        byte[] needle = Encoding.ASCII.GetBytes(canary);
        int found = Occurrences(wire, needle);
        if (withSecret)
        {
            Assert.True(found == 0, $"the canary appears {found} times in the capture of a sealed cluster");
        }
        else
        {
            Assert.True(found >= 10, $"with no secret the canary should travel in clear, yet it appears {found} times: the capture does not see the traffic");
        }
    }

    private static int Occurrences(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> needle)
    {
        int count = 0;
        int at;
        while ((at = haystack.IndexOf(needle)) >= 0)
        {
            count++;
            haystack = haystack[(at + needle.Length)..];
        }

        return count;
    }
}
