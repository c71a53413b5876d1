using Microsoft.Extensions.Options;

namespace SmdSs;

/// <summary>
/// Validates <see cref="SmdSsOptions"/>; every failure names the option (for example
/// <c>SmdSs:Listen</c>) and the value it got.
/// </summary>
public sealed class SmdSsOptionsValidator : IValidateOptions<SmdSsOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SmdSsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> errors = [];
        if (!NodeEndpoint.TryParseListen(options.Listen, out System.Net.IPEndPoint? listen))
        {
            errors.Add($"SmdSs:Listen '{options.Listen}' is not an ip:port endpoint (for example 127.0.0.1:7400).");
        }
        else if (listen.Address.Equals(System.Net.IPAddress.Any) || listen.Address.Equals(System.Net.IPAddress.IPv6Any))
        {
            // The listen address is also what the node tells its peers to call.
            errors.Add($"SmdSs:Listen '{options.Listen}' must be an address the other nodes can reach, not a wildcard.");
        }

        for (int i = 0; i < options.Friends.Count; i++)
        {
            if (!NodeEndpoint.TryParseFriend(options.Friends[i], out _))
            {
                errors.Add($"SmdSs:Friends:{i} '{options.Friends[i]}' is not a host:port endpoint.");
            }
        }

        if (string.IsNullOrWhiteSpace(options.DataDirectory) || options.DataDirectory.AsSpan().IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            errors.Add($"SmdSs:DataDirectory '{options.DataDirectory}' is not a valid directory path.");
        }

        AddIfOutside(errors, "ReplicationFactor", options.ReplicationFactor, 1, 7);
        AddIfOutside(errors, "InitialSliceCount", options.InitialSliceCount, 1, 4096);
        AddIfOutside(errors, "MaxValueBytes", options.MaxValueBytes, 1, SmdSsLimits.MaxValueBytesCeiling);
        AddIfOutside(errors, "MaxMemoryBytes", options.MaxMemoryBytes, 1L << 20, long.MaxValue);
        AddIfOutside(errors, "SplitThresholdBytes", options.SplitThresholdBytes, 64L << 10, long.MaxValue);
        AddIfOutside(errors, "SplitThresholdKeys", options.SplitThresholdKeys, 16, long.MaxValue);
        AddIfOutside(errors, "CompactionDeadBytesThreshold", options.CompactionDeadBytesThreshold, 0, long.MaxValue);
        if (!Enum.IsDefined(options.FsyncPolicy))
        {
            errors.Add($"SmdSs:FsyncPolicy '{options.FsyncPolicy}' is not one of Always, EverySecond, Never.");
        }

        if (options.ClusterSecret is { Length: < 16 })
        {
            errors.Add("SmdSs:ClusterSecret is shorter than 16 characters.");
        }
        else if (options.ClusterSecret is null && listen is not null && !System.Net.IPAddress.IsLoopback(listen.Address) && !options.AllowInsecureCluster)
        {
            errors.Add(
                $"SmdSs:ClusterSecret is required: SmdSs:Listen '{options.Listen}' is not a loopback address, and without a secret anyone who reaches it "
                + "could join the cluster and read every value. Set SmdSs:ClusterSecret on every node (openssl rand -base64 32), "
                + "or SmdSs:AllowInsecureCluster=true on a network you trust.");
        }

        for (int i = 0; i < options.AdditionalClusterSecrets.Count; i++)
        {
            if (options.AdditionalClusterSecrets[i] is not { Length: >= 16 })
            {
                errors.Add($"SmdSs:AdditionalClusterSecrets:{i} is shorter than 16 characters.");
            }
        }

        if (options.AdditionalClusterSecrets.Count > 0 && options.ClusterSecret is null)
        {
            errors.Add("SmdSs:AdditionalClusterSecrets needs SmdSs:ClusterSecret (the secret this node offers).");
        }

        if (options.WriteQuorum < 0 || options.WriteQuorum > options.ReplicationFactor)
        {
            errors.Add($"SmdSs:WriteQuorum {options.WriteQuorum} must be between 0 (a majority) and SmdSs:ReplicationFactor ({options.ReplicationFactor}).");
        }

        AddIfShorter(errors, "FailureDetectionTimeout", options.FailureDetectionTimeout, TimeSpan.FromSeconds(1));
        AddIfShorter(errors, "ReplacementGracePeriod", options.ReplacementGracePeriod, TimeSpan.Zero);
        if (options.NodeRetention < TimeSpan.FromMinutes(1) || options.NodeRetention < options.ReplacementGracePeriod)
        {
            errors.Add($"SmdSs:NodeRetention '{options.NodeRetention}' must be at least a minute and at least SmdSs:ReplacementGracePeriod ('{options.ReplacementGracePeriod}').");
        }

        AddIfShorter(errors, "RequestTimeout", options.RequestTimeout, TimeSpan.FromSeconds(1));
        AddIfShorter(errors, "TombstoneRetention", options.TombstoneRetention, TimeSpan.FromMinutes(1));
        AddIfShorter(errors, "AntiEntropyInterval", options.AntiEntropyInterval, TimeSpan.FromMilliseconds(100));
        AddIfShorter(errors, "SingleFlightTimeout", options.SingleFlightTimeout, TimeSpan.FromMilliseconds(100));
        if (options.ExpirationScanInterval <= TimeSpan.Zero)
        {
            errors.Add($"SmdSs:ExpirationScanInterval '{options.ExpirationScanInterval}' must be positive.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void AddIfShorter(List<string> errors, string option, TimeSpan value, TimeSpan min)
    {
        if (value < min)
        {
            errors.Add($"SmdSs:{option} '{value}' must be at least {min}.");
        }
    }

    private static void AddIfOutside(List<string> errors, string option, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            string range = max == long.MaxValue ? $"at least {min}" : $"between {min} and {max}";
            errors.Add($"SmdSs:{option} {value} must be {range}.");
        }
    }
}
