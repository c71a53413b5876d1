namespace SmdSs.AspNetCore.Dashboard;

/// <summary>Puts this node's status and every node's figures together into one <see cref="DashboardSnapshot"/>. Pure.</summary>
internal static class DashboardSnapshotBuilder
{
    public static DashboardSnapshot Build(SmdSsStatus status, IReadOnlyList<SmdSsNodeStats> stats, IReadOnlyDictionary<string, double?> rates, long sampledAtMs)
    {
        Dictionary<string, string> colors = NodeColors.Assign(status.Nodes.Select(n => n.Id).Concat(stats.Select(s => s.Id)));
        List<DashboardSlice> slices = [.. status.Slices.Select(ToSlice)];
        List<DashboardNode> nodes = [.. stats.OrderBy(s => s.Id, StringComparer.Ordinal).Select(s => ToNode(s, slices, colors, rates, status.SliceMapDigest))];
        List<SmdSsNodeStats> reachable = [.. stats.Where(s => s.Reachable)];
        int agreeing = reachable.Count(s => s.SliceMapDigest == status.SliceMapDigest);
        var summary = new DashboardSummary(
            NodesUp: nodes.Count(n => n.State == "Up"),
            NodesKnown: nodes.Count,
            NodesReachable: reachable.Count,
            Slices: slices.Count,
            Keys: reachable.Count == 0 ? null : reachable.Sum(s => s.PrimaryKeys ?? 0),
            Copies: reachable.Count == 0 ? null : reachable.Sum(s => s.Keys ?? 0),
            OpsPerSecond: nodes.Sum(n => n.OpsPerSecond ?? 0),
            status.SliceMapDigest,
            agreeing,
            DigestsAgree: agreeing == reachable.Count);
        return new DashboardSnapshot(status.NodeId, status.Endpoint, sampledAtMs, summary, nodes, slices);
    }

    private static DashboardSlice ToSlice(SmdSsSliceStatus s) => new(
        s.Start, s.End, s.Epoch, s.Replicas.Count > 0 ? s.Replicas[0] : null,
        [.. s.Replicas.Select(r => new DashboardReplica(r, s.InSync.Contains(r)))]);

    private static DashboardNode ToNode(
        SmdSsNodeStats s, List<DashboardSlice> slices, Dictionary<string, string> colors, IReadOnlyDictionary<string, double?> rates, string sliceMapDigest)
    {
        int primary = 0;
        int replica = 0;
        int catchingUp = 0;
        foreach (DashboardSlice slice in slices)
        {
            DashboardReplica? held = slice.Replicas.FirstOrDefault(r => r.Id == s.Id);
            if (held is null)
            {
                continue;
            }

            if (slice.Primary == s.Id)
            {
                primary++;
            }
            else
            {
                replica++;
            }

            catchingUp += held.InSync ? 0 : 1;
        }

        return new DashboardNode(
            s.Id, s.Endpoint, s.State, s.IsSelf, s.Reachable, colors[s.Id],
            primary, replica, catchingUp,
            s.Keys, s.DiskBytes, s.MemoryBytes, s.Operations, rates.GetValueOrDefault(s.Id),
            s.SliceMapDigest is null ? null : s.SliceMapDigest == sliceMapDigest);
    }
}
