using System.Diagnostics.Metrics;

namespace SmdSs.Benchmarks.Cluster;

/// <summary>
/// Counts one node's reads by where they were answered, from the node's <c>smdss.reads</c>
/// counter (tag <c>smdss.read.served</c> = local or forwarded). Tells whether "held locally"
/// really means no network. <see cref="Available"/> is false when the node publishes no such counter.
/// </summary>
internal sealed class ReadSourceCounter : IDisposable
{
    private const string MeterName = "SmdSs";
    private const string InstrumentName = "smdss.reads";
    private readonly MeterListener _listener = new();
    private readonly string _nodeId;
    private long _local;
    private long _forwarded;

    public ReadSourceCounter(string nodeId)
    {
        _nodeId = nodeId;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MeterName && instrument.Name == InstrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
                Available = true;
            }
        };
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.Start();
    }

    public bool Available { get; private set; }

    public ReadSources Snapshot() => new(Interlocked.Read(ref _local), Interlocked.Read(ref _forwarded));

    public void Dispose() => _listener.Dispose();

    private void OnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        string? node = null;
        string? served = null;
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            switch (tag.Key)
            {
                case "smdss.node":
                    node = tag.Value as string;
                    break;
                case "smdss.read.served":
                    served = tag.Value as string;
                    break;
            }
        }

        if (node != _nodeId)
        {
            return;
        }

        if (served == "local")
        {
            Interlocked.Add(ref _local, value);
        }
        else if (served == "forwarded")
        {
            Interlocked.Add(ref _forwarded, value);
        }
    }
}

/// <summary>Reads answered from the node's own copy and reads forwarded to a primary.</summary>
internal readonly record struct ReadSources(long Local, long Forwarded)
{
    public static ReadSources operator -(ReadSources after, ReadSources before) =>
        new(after.Local - before.Local, after.Forwarded - before.Forwarded);

    public long Total => Local + Forwarded;
}
