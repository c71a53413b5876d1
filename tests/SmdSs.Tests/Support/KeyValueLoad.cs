using System.Diagnostics;
using System.Net;
using System.Text;
using Xunit.Abstractions;

namespace SmdSs.Tests.Support;

/// <summary>
/// A steady load on a web farm's <c>/kv/{key}</c> through a <see cref="FarmLoadBalancer"/>,
/// bounded in requests and in time. Each caller writes its own keys in turn, a new value each
/// time (PUT), and with <see cref="ReadBack"/> reads the key back at once (GET), expecting the
/// value it just wrote: the balancer sends the GET to another process than the PUT.
/// </summary>
/// <remarks>
/// Failed, as the caller sees it: a PUT answered with anything but 204, a GET answered with
/// anything but 200 and the value just written, a timeout, or no process in rotation
/// answering. A connection error the balancer sent on to another process is not a failure here;
/// the balancer counts it (<see cref="FarmLoadBalancer.RawErrors"/>).
/// </remarks>
public sealed class KeyValueLoad(FarmLoadBalancer balancer, ITestOutputHelper output)
{
    private const int FailuresShown = 20;

    // The last acknowledged value of each key, and the values of writes that failed since
    // (a failed write may still have been applied).
    private readonly Dictionary<string, (string? Acknowledged, List<string> Unsure)> _keys = [];
    private readonly object _slowestLock = new();
    private int _started;
    private int _requests;
    private int _failed;
    private int _wrongReads;
    private TimeSpan _slowest;

    public int Callers { get; init; } = 1;

    public int KeysPerCaller { get; init; } = 500;

    public bool ReadBack { get; init; }

    public int MaxRequests { get; init; } = int.MaxValue;

    public TimeSpan MaxDuration { get; init; } = TimeSpan.MaxValue;

    /// <summary>Requests completed (answered, failed or unanswered).</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests that failed as the caller saw them (see the remarks).</summary>
    public int Failed => Volatile.Read(ref _failed);

    /// <summary>GETs (counted in <see cref="Failed"/>) that did not return the value just written.</summary>
    public int WrongReads => Volatile.Read(ref _wrongReads);

    /// <summary>The longest a caller waited for one request, balancer retries included.</summary>
    public TimeSpan Slowest
    {
        get
        {
            lock (_slowestLock)
            {
                return _slowest;
            }
        }
    }

    /// <summary>Runs the callers until <paramref name="stop"/>, <see cref="MaxRequests"/> or <see cref="MaxDuration"/>.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(() => CallAsync(caller, clock, stop))));
    }

    /// <summary>
    /// Reads every key written through each of <paramref name="readers"/> and counts the keys
    /// that one of them does not return with its last acknowledged value.
    /// </summary>
    public async Task<int> CountLostAsync(IEnumerable<FarmProcess> readers)
    {
        var lost = new HashSet<string>();
        foreach (FarmProcess reader in readers)
        {
            foreach ((string key, (string? acknowledged, List<string> unsure)) in _keys)
            {
                using HttpResponseMessage get = await reader.Http.GetAsync($"/kv/{key}");
                string? actual = get.StatusCode == HttpStatusCode.OK ? await get.Content.ReadAsStringAsync() : null;
                if (actual != acknowledged && (actual is null || !unsure.Contains(actual)) && lost.Add(key) && lost.Count <= FailuresShown)
                {
                    output.WriteLine($"lost {key} on port {reader.HttpPort}: expected {acknowledged ?? "(missing)"}, got {actual ?? get.StatusCode.ToString()}");
                }
            }
        }

        return lost.Count;
    }

    private async Task CallAsync(int caller, Stopwatch clock, CancellationToken stop)
    {
        for (int round = 0; !stop.IsCancellationRequested && clock.Elapsed < MaxDuration; round++)
        {
            string key = $"c{caller}-k{round % KeysPerCaller}";
            string value = $"c{caller}-v{round}";
            if (!TryStart())
            {
                return;
            }

            FarmAnswer? put = await SendAsync(http => http.PutAsync($"/kv/{key}", new ByteArrayContent(Encoding.UTF8.GetBytes(value))));
            bool written = put?.Status == HttpStatusCode.NoContent;
            lock (_keys)
            {
                _keys[key] = written ? (value, [])
                    : _keys.TryGetValue(key, out var before) ? (before.Acknowledged, [.. before.Unsure, value])
                    : (null, [value]);
            }

            if (!written)
            {
                Fail($"PUT {key}", put);
            }
            else if (ReadBack && TryStart())
            {
                FarmAnswer? get = await SendAsync(http => http.GetAsync($"/kv/{key}"));
                if (get?.Status != HttpStatusCode.OK || get.Body != value)
                {
                    Interlocked.Increment(ref _wrongReads);
                    Fail($"GET {key} (expected {value})", get);
                }
            }
        }
    }

    private bool TryStart() => Interlocked.Increment(ref _started) <= MaxRequests;

    private async Task<FarmAnswer?> SendAsync(Func<HttpClient, Task<HttpResponseMessage>> send)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            return await balancer.SendAsync(send);
        }
        catch (TaskCanceledException)
        {
            return null; // HttpClient's timeout: as unanswered as no process at all.
        }
        finally
        {
            TimeSpan took = Stopwatch.GetElapsedTime(started);
            lock (_slowestLock)
            {
                _slowest = took > _slowest ? took : _slowest;
            }

            Interlocked.Increment(ref _requests);
        }
    }

    private void Fail(string what, FarmAnswer? answer)
    {
        if (Interlocked.Increment(ref _failed) <= FailuresShown)
        {
            output.WriteLine(answer is null
                ? $"{what}: no process answered in time"
                : $"{what} via port {answer.Via.HttpPort}: {(int)answer.Status} {answer.Body[..Math.Min(answer.Body.Length, 300)]}");
        }
    }
}
