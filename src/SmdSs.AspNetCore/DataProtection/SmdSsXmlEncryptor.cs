using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace SmdSs.AspNetCore.DataProtection;

/// <summary>Encrypts each Data Protection key before it is stored, under a key derived from the cluster secret.</summary>
internal sealed class SmdSsXmlEncryptor(SmdSsKeyRingKeys keys) : IXmlEncryptor
{
    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        ArgumentNullException.ThrowIfNull(plaintextElement);
        var encrypted = new XElement(
            SmdSsKeyRingKeys.ElementName,
            new XComment(" Encrypted with a key derived from the SMD-SS cluster secret. "),
            new XElement("value", keys.Encrypt(plaintextElement.ToString(SaveOptions.DisableFormatting))));
        return new EncryptedXmlInfo(encrypted, typeof(SmdSsXmlDecryptor));
    }
}
