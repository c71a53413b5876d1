using System.Net;

namespace SmdSs.Tests.Support;

/// <summary>
/// What a load balancer in front of a web farm does: round-robin over the processes in
/// rotation. A request that gets no HTTP answer from a process (connection refused or reset:
/// the process is gone or restarting) is a raw error; the process leaves the rotation and the
/// request goes to the next one. An HTTP answer, 5xx included, goes back to the caller as it is:
/// a process that answered is not asked again elsewhere.
/// </summary>
public sealed class FarmLoadBalancer(IReadOnlyList<FarmProcess> farm)
{
    private readonly HashSet<FarmProcess> _out = [];
    private int _next = -1;
    private int _rawErrors;

    /// <summary>Requests a process did not answer; each was sent on to the next process.</summary>
    public int RawErrors => Volatile.Read(ref _rawErrors);

    /// <summary>The processes requests are sent to.</summary>
    public IReadOnlyList<FarmProcess> InRotation
    {
        get
        {
            lock (_out)
            {
                return [.. farm.Where(p => !_out.Contains(p))];
            }
        }
    }

    /// <summary>Puts a process back in the rotation (it is serving again, as a health check would find).</summary>
    public void Readmit(FarmProcess process)
    {
        lock (_out)
        {
            _out.Remove(process);
        }
    }

    /// <summary>Sends a request; null when no process in rotation answered it.</summary>
    public async Task<FarmAnswer?> SendAsync(Func<HttpClient, Task<HttpResponseMessage>> send)
    {
        IReadOnlyList<FarmProcess> rotation = InRotation;
        int first = Interlocked.Increment(ref _next) & int.MaxValue;
        for (int attempt = 0; attempt < rotation.Count; attempt++)
        {
            FarmProcess via = rotation[(first + attempt) % rotation.Count];
            try
            {
                using HttpResponseMessage response = await send(via.Http);
                return new FarmAnswer(via, response.StatusCode, await response.Content.ReadAsStringAsync());
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref _rawErrors);
                lock (_out)
                {
                    _out.Add(via);
                }
            }
        }

        return null;
    }
}

/// <summary>An HTTP answer and the process that gave it.</summary>
public sealed record FarmAnswer(FarmProcess Via, HttpStatusCode Status, string Body);
