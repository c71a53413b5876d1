using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace SmdSs.Tests.Support;

/// <summary>Builds started nodes on a temp directory, with a fake clock.</summary>
public static class TestNodes
{
    public static async Task<SmdSsNode> StartAsync(string dataDirectory, FakeTimeProvider? time = null, Action<SmdSsOptions>? configure = null)
    {
        var options = new SmdSsOptions { DataDirectory = dataDirectory, FsyncPolicy = FsyncPolicy.Always, Listen = "127.0.0.1:0" };
        configure?.Invoke(options);
        var node = new SmdSsNode(Options.Create(options), time ?? new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture)));
        await node.StartAsync();
        return node;
    }
}
