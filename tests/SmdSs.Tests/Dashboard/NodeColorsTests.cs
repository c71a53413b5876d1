using SmdSs.AspNetCore.Dashboard;

namespace SmdSs.Tests.Dashboard;

/// <summary>A node's dashboard color comes from its id: the same everywhere, and distinct within a farm.</summary>
public sealed class NodeColorsTests
{
    [Fact]
    public void A_node_keeps_its_color_whatever_the_order_and_the_node_answering()
    {
        string[] ids = ["5cf95e5c76235c7c", "543bddb8079a2b3d", "601552159f06f35b"];
        Dictionary<string, string> one = NodeColors.Assign(ids);
        Dictionary<string, string> other = NodeColors.Assign(ids.Reverse());
        Assert.All(ids, id => Assert.Equal(one[id], other[id]));
    }

    [Fact]
    public void Up_to_twelve_nodes_all_get_different_colors()
    {
        var random = new Random(12);
        for (int round = 0; round < 200; round++)
        {
            string[] ids = [.. Enumerable.Range(0, random.Next(1, 13)).Select(_ => ((ulong)random.NextInt64()).ToString("x16"))];
            Dictionary<string, string> colors = NodeColors.Assign(ids);
            Assert.Equal(ids.Distinct().Count(), colors.Values.Distinct().Count());
            Assert.All(colors.Values, c => Assert.Matches("^#[0-9a-f]{6}$", c));
        }
    }

    [Fact]
    public void Up_to_six_nodes_get_only_the_six_lead_colors_far_apart()
    {
        // A 3-node farm once drew pink, mauve and rose: different colors, but not at a glance.
        string[] leads = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948"];
        var random = new Random(6);
        for (int round = 0; round < 200; round++)
        {
            string[] ids = [.. Enumerable.Range(0, random.Next(1, 7)).Select(_ => ((ulong)random.NextInt64()).ToString("x16"))];
            Assert.All(NodeColors.Assign(ids).Values, c => Assert.Contains(c, leads));
        }
    }

    [Fact]
    public void A_node_without_a_collision_has_its_preferred_color_in_any_farm()
    {
        const string id = "5cf95e5c76235c7c";
        string alone = NodeColors.Assign([id])[id];
        string nonColliding = Enumerable.Range(1, 1000).Select(i => ((ulong)i * 0x1234_5678_9abcUL).ToString("x16"))
            .First(other => NodeColors.Preferred(other) != NodeColors.Preferred(id));
        Assert.Equal(alone, NodeColors.Assign([id, nonColliding])[id]);
    }
}
