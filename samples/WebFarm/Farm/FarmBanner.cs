using System.Text;

namespace WebFarm.Farm;

/// <summary>What the launcher prints once the farm is up: where to go, and how to stop it.</summary>
internal static class FarmBanner
{
    public static string Render(LoadBalancer balancer, IReadOnlyList<NodeProcess> nodes)
    {
        string lb = balancer.Url.GetLeftPart(UriPartial.Authority);
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine($"SMD-SS web farm is up: {nodes.Count} nodes behind a round-robin load balancer.");
        text.AppendLine();
        text.AppendLine($"  Load balancer:  {lb}/");
        text.AppendLine($"  Session page:   {lb}/");
        text.AppendLine($"  Dashboard:      {lb}/smdss");
        text.AppendLine($"  Status (JSON):  {lb}/smdss/status");
        text.AppendLine();
        foreach (NodeProcess node in nodes)
        {
            text.AppendLine($"  {node.Name}  {node.HttpUrl.GetLeftPart(UriPartial.Authority)}  cluster {node.ClusterEndpoint}  pid {node.ProcessId}  data {node.DataDirectory}");
        }

        text.AppendLine();
        text.Append("Ctrl+C to stop.");
        return text.ToString();
    }
}
