using System.Globalization;
using SmdSs.Hashing;
using SmdSs.Model;
using SmdSs.Storage;

namespace SmdSs.Tests.Simulation.Placement;

/// <summary>One operation on a sliding key, as the client saw it: a Set, or a Get (a Refresh reads the same way) and whether it found the key.</summary>
internal sealed class SlidingOperation(string key, NodeId at, bool isSet, long invokedAt)
{
    public string Key => key;

    public NodeId At => at;

    public bool IsSet => isSet;

    public long InvokedAt => invokedAt;

    /// <summary>When it completed; null while it runs, or if it failed.</summary>
    public long? CompletedAt { get; set; }

    /// <summary>A read that found the key.</summary>
    public bool Present { get; set; }

    public DataReply? Reply { get; set; }

    /// <summary>A renewal that may not have reached the others: a fault on its way, or an answer from a node in a stale window across a takeover (known gaps).</summary>
    public string? KnownGap { get; set; }

    /// <summary>A Set acknowledged, or a read that found the key: its deadline is the promise.</summary>
    public bool Renews => CompletedAt is not null && (IsSet || Present);

    public override string ToString() =>
        $"[{invokedAt} .. {CompletedAt?.ToString(CultureInfo.InvariantCulture) ?? "?"}] {(isSet ? "set" : "get")} {key} at {at} -> {(CompletedAt is null ? "?" : isSet ? "ok" : Present ? $"v{Reply!.Version}" : "absent")}{(Reply is null ? "" : $" by {Reply.Answerer}")}";
}

/// <summary>
/// Clients of keys with sliding windows: every 50 to 250 ms one of them sets (one time in eight)
/// or reads one of five keys, windows of 0.5, 1.5 and 2.5 s (renewed at the primary) and 6 and
/// 12 s (renewed on the replicas' own copies too), at a random node that takes clients; no key is
/// ever removed, so only expiry makes one absent. Checked, as <see cref="SlidingRenewal"/> promises:
/// <list type="bullet">
/// <item>Kept: a read that begins after a Set or a read that found the key ended does not find
/// it absent before the deadline that operation gave it (from its invocation, its window later,
/// less the clocks' skew);
/// unless that renewal may have been lost to a crash, a power loss or a cut link of its node
/// within the propagation bound, or was answered in a stale window across a takeover (known gaps:
/// counted, not failed).</item>
/// <item>Gone: a read does not find a key that no operation can have renewed for its window, the
/// propagation bound's leniency and the clocks' skew (an operation still running or failed may
/// have renewed it up to the request timeout after it began).</item>
/// </list>
/// </summary>
internal sealed class SlidingWorkload(PlacementSimulation sim)
{
    private static readonly (string Key, long WindowMs)[] Keys = [("s0", 500), ("s1", 1_500), ("s2", 2_500), ("s3", 6_000), ("s4", 12_000)];

    // Each node's clock is off by up to a second either way.
    private const long SkewMs = 2_001;

    // A request is forwarded and retried for up to 10 s; a second more for the last message.
    private const long RequestMs = 11_000;

    private readonly Dictionary<string, List<SlidingOperation>> _history = Keys.ToDictionary(k => k.Key, _ => new List<SlidingOperation>(), StringComparer.Ordinal);
    private int _values;
    private bool _stopped;

    public int Sets { get; private set; }

    public int Reads { get; private set; }

    public int Found { get; private set; }

    /// <summary>Reads that found a key absent before a renewal's deadline, by the known gap that explains it.</summary>
    public Dictionary<string, int> ExpiredEarlyInKnownGaps { get; } = new(StringComparer.Ordinal);

    /// <summary>Broken promises with no known gap to explain them (none should be).</summary>
    public List<string> Violations { get; } = [];

    public void Start() => sim.After(sim.Random.Next(50, 250), Next);

    public void Stop() => _stopped = true;

    private void Next()
    {
        if (_stopped)
        {
            return;
        }

        sim.After(sim.Random.Next(50, 250), Next);
        List<SimPlacementNode> nodes = [.. sim.Running.Where(n => n.TakesClients)];
        if (nodes.Count == 0)
        {
            return;
        }

        SimPlacementNode node = nodes[sim.Random.Next(nodes.Count)];
        (string key, long windowMs) = Keys[sim.Random.Next(Keys.Length)];
        bool isSet = sim.Random.Next(8) == 0;
        var op = new SlidingOperation(key, node.Id, isSet, sim.NowMs);
        _history[key].Add(op);
        if (isSet)
        {
            Sets++;
            node.WriteSliding(key, $"w{++_values}", windowMs, reply => Completed(op, reply, windowMs));
        }
        else
        {
            node.ReadSliding(key, reply => Completed(op, reply, windowMs));
        }
    }

    private void Completed(SlidingOperation op, DataReply? reply, long windowMs)
    {
        if (reply is null)
        {
            return;
        }

        op.CompletedAt = sim.NowMs;
        op.Reply = reply;
        uint hash = KeyHash.Of(op.Key);
        if (op.IsSet)
        {
            if (sim.LostToStaleTakeover(hash, reply.Epoch, op.InvokedAt, reply.Holders ?? new HashSet<NodeId>()))
            {
                op.KnownGap = "lost to a stale takeover";
            }

            return;
        }

        Reads++;
        op.Present = reply.Value is not null;
        uint start = sim.Find(reply.Answerer)!.View.Find(hash).Range.Start;
        if (op.Present)
        {
            Found++;
            if (sim.InStaleWindowAcrossTakeover(reply.Answerer, start))
            {
                op.KnownGap = "answered in a stale window across a takeover";
            }

            CheckGone(op, windowMs);
        }
        else
        {
            CheckKept(op, windowMs);
        }
    }

    // An absent read: no renewal's deadline, skew allowed for, was still ahead when it was answered.
    private void CheckKept(SlidingOperation absent, long windowMs)
    {
        // The renewal certainly came first (it ended before the read began), and its deadline certainly had not passed.
        SlidingOperation? broken = _history[absent.Key].LastOrDefault(o => o.Renews && o.CompletedAt < absent.InvokedAt && absent.CompletedAt < o.InvokedAt + windowMs - SkewMs);
        if (broken is null)
        {
            return;
        }

        // A Set that had not ended when the renewal began may have replaced the entry it renewed
        // (a newer version), and its own window passed since: a failed write is not rolled back
        // (anti-entropy spreads it by version), and a Set may be answered after a read of the
        // version before it (issue 18). Its window ran from its apply at the earliest (an
        // acknowledged one: its version's time; one in doubt: after its invocation and the renewed version).
        long renewedApplyMs = AppliedMs(broken.Reply!.Version);
        SlidingOperation? replacing = _history[absent.Key].LastOrDefault(o =>
        {
            if (!o.IsSet || o == broken || (o.CompletedAt ?? long.MaxValue) <= broken.InvokedAt)
            {
                return false;
            }

            bool newer = o.CompletedAt is null ? o.InvokedAt + RequestMs >= renewedApplyMs - SkewMs : o.Reply!.Version > broken.Reply.Version;
            long earliestApplyMs = o.CompletedAt is null ? Math.Max(o.InvokedAt, renewedApplyMs - SkewMs) : AppliedMs(o.Reply!.Version);
            return newer && earliestApplyMs + windowMs - SkewMs <= absent.CompletedAt;
        });

        // A read of a Set not yet acknowledged when the absent read began: a replica that does not
        // hold that write yet answers from its copy (issue 18: reads see unfinished writes).
        SlidingOperation? unfinished = broken.IsSet ? null
            : _history[absent.Key].Find(o => o.IsSet && o.Reply?.Version == broken.Reply.Version) is { } wrote && wrote.CompletedAt < absent.InvokedAt ? null
            : broken;

        // The renewal's touch may be lost: a fault between its answer and the propagation bound after.
        string? gap = broken.KnownGap
            ?? (replacing is not null ? "a later write in doubt or concurrent replaced it" : null)
            ?? (unfinished is not null ? "the renewal read a write not yet acknowledged (issue 18)" : null)
            ?? (!broken.IsSet && sim.RenewalMayBeLost(broken.Reply!.Answerer, broken.InvokedAt, broken.CompletedAt!.Value + SlidingRenewal.PropagationBoundMs + 1_000)
                ? "a crash, power loss or cut link while its renewal travelled" : null);
        string what = $"at {sim.NowMs} ms, after {sim.Phase}: {absent} though {broken} gave it {windowMs} ms";
        if (gap is not null)
        {
            ExpiredEarlyInKnownGaps[gap] = ExpiredEarlyInKnownGaps.GetValueOrDefault(gap) + 1;
            sim.Note($"expired early ({gap}{(replacing is null ? "" : $": {replacing}")}): {what}");
            return;
        }

        sim.Note($"EXPIRED EARLY: {what}");
        Violations.Add($"expired early: {what}");
    }

    // When a version was applied, on the simulation's clock (give or take its primary's offset).
    private static long AppliedMs(long version) => HybridTimestamp.PhysicalMsOf(version) - PlacementSimulation.WallEpochMs;

    // A read that found the key: some operation may have renewed it recently enough.
    private void CheckGone(SlidingOperation present, long windowMs)
    {
        long latest = long.MinValue;
        foreach (SlidingOperation o in _history[present.Key])
        {
            if (o == present || o.InvokedAt > present.CompletedAt)
            {
                continue;
            }

            if (o.CompletedAt is null)
            {
                latest = Math.Max(latest, o.InvokedAt + RequestMs);
            }
            else if (o.Renews)
            {
                latest = Math.Max(latest, o.CompletedAt.Value);
            }
        }

        if (present.InvokedAt <= latest + windowMs + SlidingRenewal.PropagationBoundMs + SkewMs)
        {
            return;
        }

        string what = latest == long.MinValue
            ? $"at {sim.NowMs} ms, after {sim.Phase}: {present}, never set"
            : $"at {sim.NowMs} ms, after {sim.Phase}: {present}, its last possible renewal at {latest} ms, window {windowMs} ms";
        sim.Note($"CAME BACK: {what}");
        Violations.Add($"came back after it expired: {what}");
    }
}
