using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.AspNetCore;

/// <summary>What AddSmdSs registers, how it binds configuration, and how bad options fail the start.</summary>
public sealed class AddSmdSsTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Registers_the_node_the_caches_and_the_key_value_store_started_by_the_host()
    {
        using IHost host = await StartHostAsync(services => services.AddSmdSs(o => { o.DataDirectory = _directory.Path; o.Listen = "127.0.0.1:0"; }));

        var node = host.Services.GetRequiredService<SmdSsNode>();
        Assert.True(node.IsRunning);
        Assert.Same(node, host.Services.GetRequiredService<ISmdSsKeyValueStore>());
        Assert.Same(host.Services.GetRequiredService<IDistributedCache>(), host.Services.GetRequiredService<IBufferDistributedCache>());

        await host.StopAsync();
        Assert.False(node.IsRunning);
    }

    [Fact]
    public async Task Replaces_a_distributed_cache_registered_earlier()
    {
        using IHost host = await StartHostAsync(services =>
        {
            services.AddDistributedMemoryCache();
            services.AddSmdSs(o => { o.DataDirectory = _directory.Path; o.Listen = "127.0.0.1:0"; });
        });

        Assert.Equal("SmdSsDistributedCache", host.Services.GetRequiredService<IDistributedCache>().GetType().Name);
    }

    [Fact]
    public async Task Binds_options_from_configuration_including_the_command_line()
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["SmdSs:MaxMemoryBytes"] = "1048576", ["SmdSs:FsyncPolicy"] = "Never" })
            .AddCommandLine([$"--SmdSs:DataDirectory={_directory.Path}", "--SmdSs:Friends:0=10.0.0.2:7400", "--SmdSs:Friends:1=node3.local:7400", "--SmdSs:Listen=127.0.0.1:0"])
            .Build();
        using IHost host = await StartHostAsync(services => services.AddSmdSs(configuration.GetSection("SmdSs")));

        SmdSsOptions options = host.Services.GetRequiredService<IOptions<SmdSsOptions>>().Value;
        Assert.Equal(1L << 20, options.MaxMemoryBytes);
        Assert.Equal(FsyncPolicy.Never, options.FsyncPolicy);
        Assert.Equal("127.0.0.1:0", options.Listen);
        Assert.Equal(["10.0.0.2:7400", "node3.local:7400"], options.Friends);
        Assert.Equal(3, options.ReplicationFactor);
    }

    [Theory]
    [InlineData("Listen", "not-an-endpoint")]
    [InlineData("Listen", "127.0.0.1")]
    [InlineData("Friends:0", "nowhere")]
    [InlineData("ReplicationFactor", "0")]
    [InlineData("MaxMemoryBytes", "1000")]
    [InlineData("InitialSliceCount", "0")]
    [InlineData("MaxValueBytes", "0")]
    [InlineData("ClusterSecret", "short")]
    [InlineData("AdditionalClusterSecrets:0", "short")]
    [InlineData("ExpirationScanInterval", "-00:00:01")]
    public async Task A_bad_option_fails_the_start_with_a_message_naming_it(string option, string value)
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["SmdSs:DataDirectory"] = _directory.Path, ["SmdSs:Listen"] = "127.0.0.1:0", [$"SmdSs:{option}"] = value })
            .Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartHostAsync(services => services.AddSmdSs(configuration.GetSection("SmdSs"))));
        Assert.Contains($"SmdSs:{option}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("192.0.2.10:7400")]
    [InlineData("[2001:db8::10]:7400")]
    public async Task A_node_listening_beyond_loopback_without_a_cluster_secret_is_refused_naming_SmdSs_ClusterSecret(string listen)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartHostAsync(services => services.AddSmdSs(o => { o.DataDirectory = _directory.Path; o.Listen = listen; })));
        Assert.Contains("SmdSs:ClusterSecret is required", error.Message, StringComparison.Ordinal);
        Assert.Contains("SmdSs:AllowInsecureCluster", error.Message, StringComparison.Ordinal);

        var validator = new SmdSsOptionsValidator();
        Assert.True(validator.Validate(null, new SmdSsOptions { Listen = listen, ClusterSecret = "a-secret-of-16-chars-or-more" }).Succeeded);
        Assert.True(validator.Validate(null, new SmdSsOptions { Listen = listen, AllowInsecureCluster = true }).Succeeded);
        Assert.True(validator.Validate(null, new SmdSsOptions { Listen = "127.0.0.1:7400" }).Succeeded);
        Assert.True(validator.Validate(null, new SmdSsOptions { Listen = "[::1]:7400" }).Succeeded);
    }

    [Fact]
    public void Additional_cluster_secrets_without_a_cluster_secret_are_refused()
    {
        var options = new SmdSsOptions();
        options.AdditionalClusterSecrets.Add("an-old-secret-0123456789");
        ValidateOptionsResult result = new SmdSsOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("SmdSs:AdditionalClusterSecrets needs SmdSs:ClusterSecret", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_data_directory_that_cannot_be_created_fails_the_start_naming_it()
    {
        string file = _directory.Sub("a-file");
        await File.WriteAllTextAsync(file, "not a directory");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => StartHostAsync(services => services.AddSmdSs(o => { o.DataDirectory = Path.Combine(file, "data"); o.Listen = "127.0.0.1:0"; })));
        Assert.Contains("SmdSs:DataDirectory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_hosts_on_one_data_directory_are_refused()
    {
        using IHost first = await StartHostAsync(services => services.AddSmdSs(o => { o.DataDirectory = _directory.Path; o.Listen = "127.0.0.1:0"; }));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => StartHostAsync(services => services.AddSmdSs(o => { o.DataDirectory = _directory.Path; o.Listen = "127.0.0.1:0"; })));
        Assert.Contains("in use", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_check_is_healthy_while_running_and_unhealthy_after_stop()
    {
        using IHost host = await StartHostAsync(services =>
        {
            services.AddSmdSs(o => { o.DataDirectory = _directory.Path; o.Listen = "127.0.0.1:0"; });
            services.AddHealthChecks().AddSmdSs();
        });
        var health = host.Services.GetRequiredService<HealthCheckService>();

        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
        await host.StopAsync();
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Status);
    }

    [Fact]
    public async Task Metrics_count_operations_hits_and_misses_on_meter_SmdSs()
    {
        using IHost host = await StartHostAsync(services => services.AddSmdSs(o => { o.DataDirectory = _directory.Path; o.Listen = "127.0.0.1:0"; }));
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var operations = new MetricCollector<long>(meters, "SmdSs", "smdss.operations");
        using var hits = new MetricCollector<long>(meters, "SmdSs", "smdss.cache.hits");
        using var misses = new MetricCollector<long>(meters, "SmdSs", "smdss.cache.misses");
        using var memory = new MetricCollector<long>(meters, "SmdSs", "smdss.memory.bytes");
        using var disk = new MetricCollector<long>(meters, "SmdSs", "smdss.disk.bytes");
        var cache = host.Services.GetRequiredService<IDistributedCache>();

        await cache.SetAsync("k", [1, 2, 3], new DistributedCacheEntryOptions());
        await cache.GetAsync("k");
        await cache.GetAsync("missing");
        memory.RecordObservableInstruments();
        disk.RecordObservableInstruments();

        Assert.Equal(3, operations.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(1, hits.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(1, misses.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.True(memory.LastMeasurement!.Value > 0);
        Assert.True(disk.LastMeasurement!.Value > 0);
    }

    public void Dispose() => _directory.Dispose();

    private static async Task<IHost> StartHostAsync(Action<IServiceCollection> configure)
    {
        IHost host = Host.CreateDefaultBuilder().ConfigureServices(configure).Build();
        try
        {
            await host.StartAsync();
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }
}
