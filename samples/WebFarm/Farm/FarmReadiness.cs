using System.Net.Http.Json;
using SmdSs;

namespace WebFarm.Farm;

/// <summary>
/// Waits until the farm serves: every node answers <c>/health</c>, and every node's map holds
/// all of them Up (the farm has formed: a request on any node reaches any key).
/// </summary>
internal static class FarmReadiness
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    /// <summary>Throws <see cref="InvalidOperationException"/> when a node exits first, <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitAsync(IReadOnlyList<NodeProcess> nodes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!await ReadyAsync(http, nodes, cancellationToken).ConfigureAwait(false))
        {
            if (nodes.FirstOrDefault(n => n.HasExited) is { } exited)
            {
                throw new InvalidOperationException($"{exited.Name} exited with code {exited.ExitCode} before the farm was up (see its output above).");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The farm was not up within {timeout.TotalSeconds:0} s.");
            }

            await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<bool> ReadyAsync(HttpClient http, IReadOnlyList<NodeProcess> nodes, CancellationToken cancellationToken)
    {
        try
        {
            foreach (NodeProcess node in nodes)
            {
                using HttpResponseMessage health = await http.GetAsync(new Uri(node.HttpUrl, "/health"), cancellationToken).ConfigureAwait(false);
                if (!health.IsSuccessStatusCode)
                {
                    return false;
                }
            }

            foreach (NodeProcess node in nodes)
            {
                SmdSsStatus? status = await http.GetFromJsonAsync<SmdSsStatus>(new Uri(node.HttpUrl, "/smdss/status"), cancellationToken).ConfigureAwait(false);
                if (status is null || status.Nodes.Count(n => n.State == "Up") < nodes.Count)
                {
                    return false;
                }
            }

            return true;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The client's timeout: a node still starting.
            return false;
        }
    }
}
