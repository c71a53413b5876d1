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
