using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection;
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
    /// application name (<c>SetApplicationName</c>). The keys are stored unencrypted, as with
    /// <c>PersistKeysToFileSystem</c>; protect them at rest with <c>ProtectKeysWith...</c> if the
    /// data directories are not private.
    /// </summary>
    /// <param name="builder">The Data Protection builder.</param>
    /// <param name="key">The SMD-SS key of the key ring. Default <see cref="DefaultKey"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty.</exception>
    public static IDataProtectionBuilder PersistKeysToSmdSs(this IDataProtectionBuilder builder, string key = DefaultKey)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(key);
        builder.Services.AddOptions<KeyManagementOptions>()
            .Configure<SmdSsNode>((options, node) => options.XmlRepository = new SmdSsXmlRepository(node, key));
        return builder;
    }
}
