using WebFarm.Farm;

namespace SmdSs.Tests.Samples;

/// <summary>The farm launcher's command line and its port and directory scheme.</summary>
public sealed class FarmOptionsTests
{
    [Fact]
    public void Defaults_put_the_load_balancer_on_5000_and_node_i_on_5000_plus_i_and_7400_plus_i()
    {
        FarmOptions options = FarmOptions.Parse([]);
        Assert.Equal(3, options.Nodes);
        Assert.Equal(5000, options.Port);
        Assert.Equal(5002, options.NodeHttpPort(2));
        Assert.Equal(7402, options.NodeClusterPort(2));
        Assert.Equal(Path.GetFullPath(Path.Combine("data", "n2")), options.NodeDataDirectory(2));
        Assert.Equal(Path.GetFullPath(Path.Combine("data", "n2.log")), options.NodeLogFile(2));
    }

    [Fact]
    public void Options_take_a_separate_or_an_inline_value_and_SmdSs_settings_pass_through()
    {
        FarmOptions options = FarmOptions.Parse(["--nodes", "5", "--port=6000", "--cluster-port", "8000", "--data", "/tmp/farm", "--SmdSs:FailureDetectionTimeout=00:00:02"]);
        Assert.Equal(5, options.Nodes);
        Assert.Equal(6000, options.Port);
        Assert.Equal(8000, options.ClusterPort);
        Assert.Equal(Path.GetFullPath("/tmp/farm/n1"), options.NodeDataDirectory(1));
        Assert.Equal(["--SmdSs:FailureDetectionTimeout=00:00:02"], options.NodeSettings);
    }

    [Theory]
    [InlineData("--nodes", "0", "--nodes")]
    [InlineData("--nodes", "x", "--nodes")]
    [InlineData("--port", "65535", "below 65536")]
    [InlineData("--colour", "red", "Unknown argument '--colour'")]
    public void A_bad_argument_is_refused_by_name(string name, string value, string message)
    {
        FormatException error = Assert.Throws<FormatException>(() => FarmOptions.Parse([name, value]));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("04:01:02 info: SmdSs.Node[400] Node a is now Up", true)]
    [InlineData("04:01:02 dbug: Some.Category[1] detail", true)]
    [InlineData("04:01:02 warn: SmdSs.Node[403] Slice 0-f: replica failed", false)]
    [InlineData("04:01:02 fail: Microsoft.AspNetCore.Server.Kestrel[13] boom", false)]
    [InlineData("Unhandled exception. System.IO.IOException: info: not a log level", false)]
    public void Only_warnings_errors_and_raw_output_of_a_node_reach_the_console(string line, bool routine)
    {
        Assert.Equal(routine, NodeProcess.IsRoutine(line));
    }
}
