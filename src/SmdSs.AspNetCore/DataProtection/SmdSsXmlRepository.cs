using System.Collections.ObjectModel;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace SmdSs.AspNetCore.DataProtection;

/// <summary>
/// The ASP.NET Core Data Protection key ring, kept in SMD-SS under one key as an XML document
/// (<c>&lt;repository&gt;</c> with one element per data-protection key). Every node of a farm
/// reads the same ring, so a cookie one node protects, any node unprotects. New keys are added
/// with compare-and-swap: nodes creating keys at the same moment (a farm's first start) each
/// add theirs, none overwrites another's.
/// </summary>
/// <remarks>
/// <see cref="IXmlRepository"/> is synchronous; the calls wait on the node. Data Protection
/// reads the ring rarely (at start, about once a day, and on an unknown key), and a read of a key
/// this node holds is a memory lookup.
/// </remarks>
internal sealed class SmdSsXmlRepository(SmdSsNode node, string key) : IXmlRepository
{
    private const int MaxSwapAttempts = 100;
    private static readonly XName Root = "repository";

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        EnsureStarted();
        SmdSsVersionedValue? stored = node.GetVersionedInternalAsync(key).AsTask().GetAwaiter().GetResult();
        return stored is null ? [] : new ReadOnlyCollection<XElement>([.. Parse(stored.Value).Root!.Elements()]);
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        EnsureStarted();
        for (int attempt = 0; attempt < MaxSwapAttempts; attempt++)
        {
            SmdSsVersionedValue? current = node.GetVersionedInternalAsync(key).AsTask().GetAwaiter().GetResult();
            XDocument ring = current is null ? new XDocument(new XElement(Root)) : Parse(current.Value);
            ring.Root!.Add(new XElement(element));
            byte[] updated = Encoding.UTF8.GetBytes(ring.ToString(SaveOptions.DisableFormatting));
            if (node.CompareAndSwapInternalAsync(key, current?.Version ?? 0, updated).AsTask().GetAwaiter().GetResult().Swapped)
            {
                return;
            }
        }

        throw new InvalidOperationException($"Could not add data-protection key '{friendlyName}' to SMD-SS key '{key}': it changed {MaxSwapAttempts} times in a row.");
    }

    // The node starts with the host; Data Protection may read the ring from an earlier hosted service.
    private void EnsureStarted()
    {
        if (!node.IsRunning)
        {
            node.StartAsync().GetAwaiter().GetResult();
        }
    }

    private XDocument Parse(byte[] stored)
    {
        XDocument document = XDocument.Parse(Encoding.UTF8.GetString(stored));
        return document.Root?.Name == Root
            ? document
            : throw new InvalidOperationException($"SMD-SS key '{key}' does not hold a data-protection key ring.");
    }
}
