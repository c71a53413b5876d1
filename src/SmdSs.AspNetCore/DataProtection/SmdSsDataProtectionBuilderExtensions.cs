using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SmdSs;
using SmdSs.AspNetCore.DataProtection;

namespace Microsoft.AspNetCore.DataProtection;

/// <summary>Keeps the ASP.NET Core Data Protection key ring in SMD-SS.</summary>
public static class SmdSsDataProtectionBuilderExtensions
{
    /// <summary>The SMD-SS key that holds the key ring unless another is given.</summary>
    public const string DefaultKey = "smdss:data-protection:keys";

    /// <summary>
    /// Stores the Data Protection key ring in the farm's own SMD-SS cluster (requires
    /// <c>AddSmdSs</c>), so that every node protects and unprotects with the same keys: session
    /// and authentication cookies issued by one node are accepted by all. Give every node the same
    /// application name (<c>SetApplicationName</c>). With a <see cref="SmdSsOptions.ClusterSecret"/>
    /// each key is encrypted before it is stored (AES-GCM under a key derived from the secret),
    /// unless the app chose another encryptor (<c>ProtectKeysWith...</c>); without a secret the
    /// keys are stored unencrypted, as with <c>PersistKeysToFileSystem</c>. The key is in SMD-SS's
    /// reserved namespace (<see cref="SmdSsLimits.ReservedKeyPrefix"/>) by default, where no app
    /// endpoint can read it.
    /// </summary>
    /// <param name="builder">The Data Protection builder.</param>
    /// <param name="key">The SMD-SS key of the key ring. Default <see cref="DefaultKey"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty.</exception>
    public static IDataProtectionBuilder PersistKeysToSmdSs(this IDataProtectionBuilder builder, string key = DefaultKey)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(key);
        builder.Services.TryAddSingleton(services => new SmdSsKeyRingKeys(services.GetRequiredService<IOptions<SmdSsOptions>>().Value));
        builder.Services.AddOptions<KeyManagementOptions>()
            .Configure<SmdSsNode>((options, node) => options.XmlRepository = new SmdSsXmlRepository(node, key))
            .PostConfigure<SmdSsKeyRingKeys>((options, keys) =>
            {
                if (options.XmlEncryptor is null && keys.CanEncrypt)
                {
                    options.XmlEncryptor = new SmdSsXmlEncryptor(keys);
                }
            });
        return builder;
    }
}
