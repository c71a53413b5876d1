using System.Text;
using SmdSs.Tests.Support;

namespace SmdSs.Tests.Simulation;

/// <summary>
/// The seeded schedule of one simulation run: the cluster size, and for each round a fault phase
/// cut into episodes (each with its own link faults), at most one partition spanning some
/// episodes, and at most one crash and restart of a node. An episode index equal to the episode
/// count means "when the faults stop".
/// </summary>
internal sealed record FaultPlan(int Nodes, IReadOnlyList<FaultRound> Rounds)
{
    public static FaultPlan From(Random random, int rounds)
    {
        int nodes = 3 + random.Next(2);
        return new FaultPlan(nodes, [.. Enumerable.Range(0, rounds).Select(_ => FaultRound.From(random, nodes))]);
    }

    public override string ToString()
    {
        var text = new StringBuilder($"{Nodes} nodes");
        for (int i = 0; i < Rounds.Count; i++)
        {
            text.Append($"\n round {i}: {Rounds[i]}");
        }

        return text.ToString();
    }
}

/// <summary>One fault phase (see <see cref="FaultPlan"/>).</summary>
internal sealed record FaultRound(
    IReadOnlyList<FaultEpisode> Episodes,
    IReadOnlyList<int> Isolated,
    int PartitionFrom,
    int PartitionTo,
    int? Crash,
    int CrashAt,
    int RestartAt)
{
    public static FaultRound From(Random random, int nodes)
    {
        int count = 3 + random.Next(2);
        FaultEpisode[] episodes = [.. Enumerable.Range(0, count).Select(_ => FaultEpisode.From(random))];

        // A partition of one node (or, of four, sometimes two against two) for one or more episodes.
        int[] isolated = [];
        int from = 0;
        int to = 0;
        if (random.NextDouble() < 0.6)
        {
            int size = nodes == 4 && random.Next(4) == 0 ? 2 : 1;
            isolated = [.. Enumerable.Range(0, nodes).OrderBy(_ => random.Next()).Take(size).Order()];
            from = random.Next(count);
            to = from + 1 + random.Next(count - from);
        }

        int? crash = null;
        int crashAt = 0;
        int restartAt = 0;
        if (random.NextDouble() < 0.5)
        {
            crash = random.Next(nodes);
            crashAt = random.Next(count);
            restartAt = crashAt + 1 + random.Next(count - crashAt);
        }

        return new FaultRound(episodes, isolated, from, to, crash, crashAt, restartAt);
    }

    public TimeSpan Duration => Episodes.Aggregate(TimeSpan.Zero, (sum, e) => sum + e.Duration);

    public IEnumerable<int> IsolatedDuring(int episode) => episode >= PartitionFrom && episode < PartitionTo ? Isolated : [];

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append($"{Duration.TotalMilliseconds:0} ms in {Episodes.Count} episodes");
        if (Isolated.Count > 0)
        {
            text.Append($", partition [{string.Join(",", Isolated)}] episodes {PartitionFrom}..{PartitionTo - 1}");
        }

        if (Crash is { } crash)
        {
            text.Append($", crash node {crash} at episode {CrashAt}, restart at {(RestartAt == Episodes.Count ? "heal" : "episode " + RestartAt)}");
        }

        foreach (FaultEpisode episode in Episodes)
        {
            text.Append($"\n   {episode}");
        }

        return text.ToString();
    }
}

/// <summary>A stretch of a fault phase with one set of link faults.</summary>
internal sealed record FaultEpisode(TimeSpan Duration, LinkFaults Faults)
{
    public static FaultEpisode From(Random random)
    {
        var duration = TimeSpan.FromMilliseconds(600 + random.Next(800));
        if (random.NextDouble() < 0.2)
        {
            return new FaultEpisode(duration, LinkFaults.None);
        }

        // Mostly short delays; sometimes long ones, past the probe, ack and lease timeouts.
        var maxDelay = TimeSpan.FromMilliseconds(random.NextDouble() < 0.7 ? 20 + random.Next(280) : 500 + random.Next(2000));
        var faults = new LinkFaults(
            Drop: random.NextDouble() * 0.15,
            Delay: random.NextDouble() * 0.3,
            ReplyDelay: random.NextDouble() * 0.1,
            Duplicate: random.NextDouble() * 0.15,
            Reorder: random.NextDouble() * 0.2,
            MaxDelay: maxDelay);
        return new FaultEpisode(duration, faults);
    }

    public override string ToString() => $"{Duration.TotalMilliseconds:0} ms: {(ReferenceEquals(Faults, LinkFaults.None) ? "quiet" : Faults.ToString())}";
}
