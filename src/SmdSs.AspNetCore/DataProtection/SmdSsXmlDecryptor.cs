using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.DependencyInjection;

namespace SmdSs.AspNetCore.DataProtection;

/// <summary>
/// Decrypts what <see cref="SmdSsXmlEncryptor"/> wrote. Data Protection creates it by type name
/// from the stored XML, with the app's services.
/// </summary>
internal sealed class SmdSsXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    private readonly SmdSsKeyRingKeys _keys = services.GetRequiredService<SmdSsKeyRingKeys>();

    public XElement Decrypt(XElement encryptedElement)
    {
        ArgumentNullException.ThrowIfNull(encryptedElement);
        string value = encryptedElement.Element("value")?.Value
            ?? throw new FormatException($"The encrypted key-ring element has no <value> ({encryptedElement.Name}).");
        return XElement.Parse(_keys.Decrypt(value));
    }
}
