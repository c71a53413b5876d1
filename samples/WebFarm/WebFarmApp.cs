using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using SmdSs;

namespace WebFarm;

/// <summary>
/// The sample farm member: session state and a key-value endpoint over an embedded SMD-SS node.
/// All configuration comes from the usual ASP.NET sources (appsettings, environment, command
/// line), for example <c>--SmdSs:Listen=127.0.0.1:7401 --SmdSs:DataDirectory=data/n1</c>.
/// </summary>
public static class WebFarmApp
{
    public const string VisitsKey = SessionPage.VisitsKey;

    /// <summary>The response header that names the node that served a request.</summary>
    public const string NodeHeader = "X-SmdSs-Node";

    /// <summary>Builds the app; <paramref name="configure"/> lets tests swap the server or settings.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        builder.Services.AddSmdSs(builder.Configuration.GetSection(SmdSsOptions.SectionName));
        // One Data Protection key ring for the whole farm, kept in SMD-SS itself: a session cookie
        // one node issues, every node accepts, with no shared folder.
        builder.Services.AddDataProtection().SetApplicationName("WebFarm").PersistKeysToSmdSs();
        builder.Services.AddSession(options =>
        {
            options.Cookie.Name = "webfarm.session";
            options.IdleTimeout = TimeSpan.FromMinutes(20);
        });
        builder.Services.AddHealthChecks().AddSmdSs();

        // Started by the farm launcher (--parent-pid=N): stop when it is gone.
        builder.Services.AddHostedService<ParentProcessWatch>();

        WebApplication app = builder.Build();
        SmdSsNode node = app.Services.GetRequiredService<SmdSsNode>();
        app.Use((context, next) =>
        {
            context.Response.Headers[NodeHeader] = node.NodeId;
            return next(context);
        });
        app.UseSession();
        app.MapGet("/", SessionPage.ShowAsync);
        app.MapGet("/kv/{key}", GetValue);
        app.MapPut("/kv/{key}", PutValue);
        app.MapDelete("/kv/{key}", DeleteValue);
        app.MapHealthChecks("/health", new HealthCheckOptions());
        app.MapSmdSs("/smdss");
        app.MapSmdSsDashboard("/smdss");
        return app;
    }

    // A key the store refuses (empty, too long, or in SMD-SS's reserved smdss: namespace) is the caller's mistake: 400.
    private static async Task<IResult> GetValue(string key, ISmdSsKeyValueStore store, CancellationToken cancellationToken)
    {
        try
        {
            byte[]? value = await store.GetAsync(key, cancellationToken);
            return value is null ? Results.NotFound() : Results.Bytes(value, "application/octet-stream");
        }
        catch (ArgumentException ex)
        {
            return Results.Problem(ex.Message, statusCode: StatusCodes.Status400BadRequest);
        }
    }

    private static async Task<IResult> PutValue(string key, HttpRequest request, ISmdSsKeyValueStore store, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, cancellationToken);
        try
        {
            await store.SetAsync(key, body.GetBuffer().AsMemory(0, (int)body.Length), null, cancellationToken);
            return Results.NoContent();
        }
        catch (ArgumentException ex)
        {
            return Results.Problem(ex.Message, statusCode: StatusCodes.Status400BadRequest);
        }
    }

    private static async Task<IResult> DeleteValue(string key, ISmdSsKeyValueStore store, CancellationToken cancellationToken)
    {
        try
        {
            bool removed = await store.RemoveAsync(key, cancellationToken);
            return removed ? Results.NoContent() : Results.NotFound();
        }
        catch (ArgumentException ex)
        {
            return Results.Problem(ex.Message, statusCode: StatusCodes.Status400BadRequest);
        }
    }
}
