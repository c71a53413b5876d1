using System.Globalization;
using System.Text;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Compute;

/// <summary>Entry processors registered on every node of a 3-node cluster: atomic, replicated, and harmless when unknown or failing.</summary>
[Collection(ClusterTestGroup.Name)]
public sealed class EntryProcessorTests
{
    private const int Nodes = 3;

    private static Task<InProcessCluster> StartAsync() =>
        InProcessCluster.StartWithAsync(Nodes, b => b.AddProcessor<CartAddProcessor>().AddProcessor<CartClearProcessor>().AddProcessor<FailingProcessor>());

    private static int Count(byte[] reply) => int.Parse(Encoding.ASCII.GetString(reply), CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_processor_called_from_every_node_at_once_is_atomic_and_its_result_is_on_every_node()
    {
        await using InProcessCluster cluster = await StartAsync();
        await cluster.WaitSettledAsync();
        const int callers = Nodes * 10;
        const int itemsPerCaller = 5;

        int[][] replies = await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            var counts = new int[itemsPerCaller];
            for (int i = 0; i < itemsPerCaller; i++)
            {
                counts[i] = Count(await cluster.Node(c % Nodes).ExecuteAsync("cart:42", CartAddProcessor.ProcessorName, Encoding.UTF8.GetBytes($"item-{c}-{i}")));
            }

            return counts;
        })));

        // Each call saw every earlier one and no later one: the counts answered are exactly 1..N.
        const int total = callers * itemsPerCaller;
        Assert.Equal(Enumerable.Range(1, total), replies.SelectMany(r => r).Order());
        string[] expected = [.. Enumerable.Range(0, callers).SelectMany(c => Enumerable.Range(0, itemsPerCaller).Select(i => $"item-{c}-{i}")).Order(StringComparer.Ordinal)];
        for (int node = 0; node < Nodes; node++)
        {
            string cart = (await cluster.Node(node).GetStringAsync("cart:42"))!;
            Assert.Equal(expected, cart.Split('\n').Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task An_unknown_processor_gives_a_clear_error_and_changes_nothing()
    {
        await using InProcessCluster cluster = await StartAsync();
        await cluster.WaitSettledAsync();
        await cluster.Node(0).ExecuteAsync("cart:1", CartAddProcessor.ProcessorName, "apple"u8.ToArray());
        SmdSsVersionedValue before = (await cluster.Node(0).GetVersionedAsync("cart:1"))!;

        for (int node = 0; node < Nodes; node++)
        {
            SmdSsProcessorException ex = await Assert.ThrowsAsync<SmdSsProcessorException>(async () => await cluster.Node(node).ExecuteAsync("cart:1", "cart-remove", "apple"u8.ToArray()));
            Assert.Contains("cart-remove", ex.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<SmdSsProcessorException>(async () => await cluster.Node(node).ExecuteAsync("cart:missing", "cart-remove"));
        }

        for (int node = 0; node < Nodes; node++)
        {
            SmdSsVersionedValue after = (await cluster.Node(node).GetVersionedAsync("cart:1"))!;
            Assert.Equal(before.Version, after.Version);
            Assert.Equal("apple", Encoding.UTF8.GetString(after.Value));
            Assert.False(await cluster.Node(node).ExistsAsync("cart:missing"));
        }
    }

    [Fact]
    public async Task A_throwing_processor_gives_an_error_naming_it_and_changes_nothing()
    {
        await using InProcessCluster cluster = await StartAsync();
        await cluster.WaitSettledAsync();
        await cluster.Node(1).SetStringAsync("cart:2", "pear");
        SmdSsVersionedValue before = (await cluster.Node(1).GetVersionedAsync("cart:2"))!;

        for (int node = 0; node < Nodes; node++)
        {
            SmdSsProcessorException ex = await Assert.ThrowsAsync<SmdSsProcessorException>(async () => await cluster.Node(node).ExecuteAsync("cart:2", FailingProcessor.ProcessorName));
            Assert.Contains(FailingProcessor.ProcessorName, ex.Message, StringComparison.Ordinal);
            Assert.Contains(FailingProcessor.Failure, ex.Message, StringComparison.Ordinal);
        }

        for (int node = 0; node < Nodes; node++)
        {
            SmdSsVersionedValue after = (await cluster.Node(node).GetVersionedAsync("cart:2"))!;
            Assert.Equal(before.Version, after.Version);
            Assert.Equal("pear", Encoding.UTF8.GetString(after.Value));
        }

        // The key still takes ordinary processors.
        Assert.Equal(2, Count(await cluster.Node(2).ExecuteAsync("cart:2", CartAddProcessor.ProcessorName, "plum"u8.ToArray())));
    }

    [Fact]
    public async Task A_Remove_result_removes_the_key_on_every_node()
    {
        await using InProcessCluster cluster = await StartAsync();
        await cluster.WaitSettledAsync();
        for (int i = 0; i < 3; i++)
        {
            await cluster.Node(i).ExecuteAsync("cart:3", CartAddProcessor.ProcessorName, Encoding.UTF8.GetBytes("thing " + i));
        }

        Assert.Equal(3, Count(await cluster.Node(1).ExecuteAsync("cart:3", CartClearProcessor.ProcessorName)));
        for (int node = 0; node < Nodes; node++)
        {
            Assert.False(await cluster.Node(node).ExistsAsync("cart:3"));
            Assert.Null(await cluster.Node(node).GetVersionedAsync("cart:3"));
        }

        // Clearing a missing cart removes nothing and says so.
        Assert.Equal(0, Count(await cluster.Node(2).ExecuteAsync("cart:3", CartClearProcessor.ProcessorName)));
        Assert.Equal(1, Count(await cluster.Node(0).ExecuteAsync("cart:3", CartAddProcessor.ProcessorName, "again"u8.ToArray())));
    }
}

/// <summary>Adds the argument as a line to the cart and answers the new number of items (ASCII).</summary>
public sealed class CartAddProcessor : ISmdSsEntryProcessor
{
    public const string ProcessorName = "cart-add";

    public string Name => ProcessorName;

    public SmdSsProcessorResult Process(SmdSsEntry entry, ReadOnlyMemory<byte> argument)
    {
        string item = Encoding.UTF8.GetString(argument.Span);
        string cart = entry.Exists ? Encoding.UTF8.GetString(entry.Value.Span) + "\n" + item : item;
        int count = cart.Split('\n').Length;
        return SmdSsProcessorResult.Set(Encoding.UTF8.GetBytes(cart), Encoding.ASCII.GetBytes(count.ToString(CultureInfo.InvariantCulture)));
    }
}

/// <summary>Removes the cart and answers how many items it had (ASCII; 0 when missing).</summary>
public sealed class CartClearProcessor : ISmdSsEntryProcessor
{
    public const string ProcessorName = "cart-clear";

    public string Name => ProcessorName;

    public SmdSsProcessorResult Process(SmdSsEntry entry, ReadOnlyMemory<byte> argument)
    {
        int count = entry.Exists ? Encoding.UTF8.GetString(entry.Value.Span).Split('\n').Length : 0;
        return SmdSsProcessorResult.Remove(Encoding.ASCII.GetBytes(count.ToString(CultureInfo.InvariantCulture)));
    }
}

/// <summary>Always throws.</summary>
public sealed class FailingProcessor : ISmdSsEntryProcessor
{
    public const string ProcessorName = "always-fails";
    public const string Failure = "the cart service is on fire";

    public string Name => ProcessorName;

    public SmdSsProcessorResult Process(SmdSsEntry entry, ReadOnlyMemory<byte> argument) => throw new InvalidOperationException(Failure);
}
