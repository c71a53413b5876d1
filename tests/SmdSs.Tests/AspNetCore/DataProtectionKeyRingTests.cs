using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.AspNetCore;

[Collection(ClusterTestGroup.Name)]
public sealed class DataProtectionKeyRingTests
{
    [Fact]
    public async Task Keys_stored_at_once_from_every_node_are_all_kept()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartWithAsync(3, smdSs =>
            smdSs.Services.AddDataProtection().SetApplicationName("farm").PersistKeysToSmdSs());
        await cluster.WaitSettledAsync();
        IXmlRepository[] repositories = [.. Enumerable.Range(0, 3).Select(i => cluster.Services(i).GetRequiredService<IOptions<KeyManagementOptions>>().Value.XmlRepository!)];
        int before = repositories[0].GetAllElements().Count;

        // Read-modify-write of one document from three nodes at once: without compare-and-swap
        // most of these would be lost. Own threads, as the calls block (IXmlRepository is synchronous).
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        Thread[] writers = [.. Enumerable.Range(0, 3).Select(node => new Thread(() =>
        {
            try
            {
                for (int i = node; i < 45; i += 3)
                {
                    repositories[node].StoreElement(new XElement("key", new XAttribute("id", "test-" + i)), "test-" + i);
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue(ex);
            }
        }))];
        Array.ForEach(writers, w => w.Start());
        await Task.Run(() => Array.ForEach(writers, w => w.Join()));
        Assert.Empty(failures);

        for (int node = 0; node < 3; node++)
        {
            List<string?> ids = [.. repositories[node].GetAllElements().Select(e => (string?)e.Attribute("id"))];
            Assert.Equal(before + 45, ids.Count);
            Assert.All(Enumerable.Range(0, 45), i => Assert.Contains("test-" + i, ids));
        }
    }

    [Fact]
    public async Task Any_node_unprotects_what_any_node_protected_also_with_a_key_one_node_just_created()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartWithAsync(3, smdSs =>
            smdSs.Services.AddDataProtection().SetApplicationName("farm").PersistKeysToSmdSs());
        await cluster.WaitSettledAsync();
        IDataProtector[] protectors = [.. Enumerable.Range(0, 3).Select(i => cluster.Services(i).GetRequiredService<IDataProtectionProvider>().CreateProtector("session"))];
        string[] payloads = [.. Enumerable.Range(0, 3).Select(i => protectors[i].Protect("from node " + i))];

        // A new default key made on node 2 (as key rotation does): the others find it in the ring.
        cluster.Services(2).GetRequiredService<IKeyManager>().CreateNewKey(DateTimeOffset.UtcNow.AddSeconds(-1), DateTimeOffset.UtcNow.AddDays(90));
        string rotated = cluster.Services(2).GetRequiredService<IDataProtectionProvider>().CreateProtector("session").Protect("after rotation");

        for (int to = 0; to < 3; to++)
        {
            for (int from = 0; from < 3; from++)
            {
                Assert.Equal("from node " + from, protectors[to].Unprotect(payloads[from]));
            }

            Assert.Equal("after rotation", protectors[to].Unprotect(rotated));
        }
    }

    [Fact]
    public async Task With_a_cluster_secret_the_ring_is_stored_encrypted_and_every_node_reads_it()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartWithAsync(2, smdSs =>
            smdSs.Services.AddDataProtection().SetApplicationName("farm").PersistKeysToSmdSs());
        await cluster.WaitSettledAsync(replicationFactor: 2);
        string payload = cluster.Services(0).GetRequiredService<IDataProtectionProvider>().CreateProtector("p").Protect("cookie");

        byte[] stored = (await cluster.Node(1).GetVersionedInternalAsync(SmdSsDataProtectionBuilderExtensions.DefaultKey))!.Value;
        string xml = System.Text.Encoding.UTF8.GetString(stored);
        Assert.True(xml.Contains("<smdssEncryptedKey", StringComparison.Ordinal) && xml.Contains("decryptorType=\"SmdSs.AspNetCore.DataProtection.SmdSsXmlDecryptor", StringComparison.Ordinal), xml);
        Assert.DoesNotContain("<masterKey", xml, StringComparison.Ordinal);
        Assert.Equal("cookie", cluster.Services(1).GetRequiredService<IDataProtectionProvider>().CreateProtector("p").Unprotect(payload));
    }

    [Fact]
    public void A_ring_written_under_the_old_secret_is_read_while_the_old_secret_is_accepted()
    {
        var old = new SmdSsOptions { ClusterSecret = "old-cluster-secret-0123456789" };
        var rolled = new SmdSsOptions { ClusterSecret = "new-cluster-secret-0123456789" };
        rolled.AdditionalClusterSecrets.Add(old.ClusterSecret);
        var done = new SmdSsOptions { ClusterSecret = rolled.ClusterSecret };

        string sealedKey = new SmdSs.AspNetCore.DataProtection.SmdSsKeyRingKeys(old).Encrypt("<key id='1'/>");
        Assert.DoesNotContain("key id", sealedKey, StringComparison.Ordinal);
        Assert.Equal("<key id='1'/>", new SmdSs.AspNetCore.DataProtection.SmdSsKeyRingKeys(rolled).Decrypt(sealedKey));
        var error = Assert.Throws<System.Security.Cryptography.CryptographicException>(() => new SmdSs.AspNetCore.DataProtection.SmdSsKeyRingKeys(done).Decrypt(sealedKey));
        Assert.Contains("SmdSs:AdditionalClusterSecrets", error.Message, StringComparison.Ordinal);
        Assert.False(new SmdSs.AspNetCore.DataProtection.SmdSsKeyRingKeys(new SmdSsOptions()).CanEncrypt);
    }

    [Fact]
    public async Task A_node_started_later_uses_the_farms_ring()
    {
        await using InProcessCluster cluster = await InProcessCluster.StartWithAsync(2, smdSs =>
            smdSs.Services.AddDataProtection().SetApplicationName("farm").PersistKeysToSmdSs());
        await cluster.WaitSettledAsync(replicationFactor: 2);
        string payload = cluster.Services(0).GetRequiredService<IDataProtectionProvider>().CreateProtector("p").Protect("cookie");

        int late = await cluster.AddNodeAsync();
        await cluster.WaitSettledAsync();
        Assert.Equal("cookie", cluster.Services(late).GetRequiredService<IDataProtectionProvider>().CreateProtector("p").Unprotect(payload));
    }
}
