using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SmdSs;

namespace WebFarm;

/// <summary>
/// The page at <c>/</c>: counts the visits of this session and remembers which nodes served it.
/// Both live in the session, which lives in SMD-SS: behind a round-robin load balancer every
/// request lands on another node, and each of them sees the same count.
/// </summary>
internal static class SessionPage
{
    public const string VisitsKey = "visits";
    public const string ServedByKey = "servedBy";

    public static async Task<IResult> ShowAsync(HttpContext context, SmdSsNode node, IOptions<SmdSsOptions> options)
    {
        await context.Session.LoadAsync(context.RequestAborted).ConfigureAwait(false);
        int visits = (context.Session.GetInt32(VisitsKey) ?? 0) + 1;
        context.Session.SetInt32(VisitsKey, visits);

        string nodeId = node.NodeId ?? "?";
        List<ServedBy> servedBy = Load(context.Session);
        int index = servedBy.FindIndex(s => s.Node == nodeId);
        ServedBy mine = index < 0 ? new ServedBy(nodeId, options.Value.Listen, 0) : servedBy[index];
        mine = mine with { Visits = mine.Visits + 1 };
        if (index < 0)
        {
            servedBy.Add(mine);
        }
        else
        {
            servedBy[index] = mine;
        }

        context.Session.SetString(ServedByKey, JsonSerializer.Serialize(servedBy));

        // Saved before the page is written: the session middleware would save it only after the
        // response, and a quick next request (to another node) could read the count before it.
        await context.Session.CommitAsync(context.RequestAborted).ConfigureAwait(false);
        return Results.Content(Render(visits, mine, servedBy), "text/html", Encoding.UTF8);
    }

    private static List<ServedBy> Load(ISession session)
    {
        string? json = session.GetString(ServedByKey);
        try
        {
            return json is null ? [] : JsonSerializer.Deserialize<List<ServedBy>>(json) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private static string Render(int visits, ServedBy mine, IReadOnlyList<ServedBy> servedBy)
    {
        var rows = new StringBuilder();
        foreach (ServedBy s in servedBy)
        {
            string current = s.Node == mine.Node ? " class=\"current\"" : string.Empty;
            rows.Append(Invariant($"<tr{current}><td><code>{Html(s.Node)}</code></td><td>{Html(s.Endpoint)}</td><td class=\"n\">{s.Visits}</td></tr>"));
        }

        return $$"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>SMD-SS web farm</title>
            <style>
              body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 44rem; padding: 0 1rem; color: #1f2937; }
              .card { border: 1px solid #d1d5db; border-radius: .5rem; padding: 1rem 1.5rem; margin-bottom: 1rem; }
              .big { font-size: 3.5rem; font-weight: 700; color: #2563eb; }
              table { border-collapse: collapse; width: 100%; }
              th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e5e7eb; }
              td.n, th.n { text-align: right; }
              tr.current { background: #eff6ff; font-weight: 600; }
              a.button { display: inline-block; padding: .4rem .9rem; border-radius: .4rem; background: #2563eb; color: white; text-decoration: none; }
              .muted { color: #6b7280; font-size: .9rem; }
            </style></head>
            <body>
              <h1>SMD-SS web farm</h1>
              <div class="card">
                <div>Visits in this session</div>
                <div class="big"><span id="visits">{{visits}}</span></div>
                <p>This request was served by node <code id="node">{{Html(mine.Node)}}</code> ({{Html(mine.Endpoint)}}).</p>
                <a class="button" href="/">Reload</a>
              </div>
              <div class="card">
                <h2>Nodes that served this session</h2>
                <table id="served-by"><thead><tr><th>Node</th><th>Cluster endpoint</th><th class="n">Requests</th></tr></thead>
                <tbody>{{rows}}</tbody></table>
              </div>
              <p>The session lives in SMD-SS, the farm's own distributed cache: every node sees the same count, whichever one the load balancer picks.
                 <a href="/smdss">Dashboard</a> · <a href="/smdss/status">Status (JSON)</a></p>
              <p class="muted">Kill a node and reload: the count goes on.</p>
            </body></html>
            """;
    }

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    private static string Html(string text) => WebUtility.HtmlEncode(text);

    /// <summary>One node's share of this session's requests.</summary>
    private sealed record ServedBy(string Node, string Endpoint, int Visits);
}
