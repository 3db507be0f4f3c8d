using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Heaven.Tests.Infrastructure;
using Heaven.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Heaven.Tests.Web;

/// <summary>
/// A small site on 127.0.0.1 that shows Heaven's page kit before Heaven's own pages exist: the real
/// static assets, the real layout and HTML writer rendering pages full of hostile values, a log stream
/// the test drives frame by frame, and the strict Content-Security-Policy Heaven's pages are served with.
/// </summary>
public sealed class PageKitSite : IAsyncDisposable
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https://avatars.githubusercontent.com; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    // What a repository's collaborators could name things: each one would run script if written as markup.
    public const string HostileRef = "<script>window.__xss=1;alert(1)</script>";
    public const string HostileEnvironment = "<img src=x onerror=\"window.__xss=1;alert(2)\">";
    public const string HostileMessage = "\" onmouseover=\"window.__xss=1\" data-x=\"";
    public const string HostileLogin = "<b>mallory</b>";
    public const string HostileLogLine = "<img src=x onerror=\"window.__xss=1;alert(3)\">";

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, int> posts = new();

    private PageKitSite(WebApplication app, string baseUrl)
    {
        this.app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    /// <summary>The time the pages are rendered at: the time the site started, to the second, unless a test sets it.</summary>
    public DateTimeOffset Now { get; set; } = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    /// <summary>The deployment's time on the pages: three minutes before <see cref="Now"/> unless set.</summary>
    public DateTimeOffset? DeployedAt { get; set; }

    /// <summary>The log stream the <c>/live</c> and <c>/hostile</c> pages show.</summary>
    public FakeLogStream Log { get; } = new();

    public string Url(string path) => BaseUrl + path;

    /// <summary>How many times a form posted to <c>/actions/{name}</c>.</summary>
    public int Posts(string name) => posts.GetValueOrDefault(name);

    public static async Task<PageKitSite> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var web = builder.Build();
        PageKitSite? site = null;
        web.Use(async (context, next) =>
        {
            context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
            await next(context);
        });
        StaticAssets.Map(web);
        web.MapGet("/hostile", () => site!.HostilePage());
        web.MapGet("/live", () => PageLayout.Result("Deployment 42", PageSection.Dashboard, new PageChrome(new SignedInUser("octocat")), LiveLogView.Render("/fake-log", 42)));
        web.MapGet("/layout", () => site!.LayoutPage());
        web.MapGet("/done", () => PageLayout.Result("Done", null, PageChrome.Anonymous, Html.Of($"<p>The form was sent.</p>")));
        web.MapPost("/actions/{name}", (string name) =>
        {
            site!.posts.AddOrUpdate(name, 1, (_, count) => count + 1);
            return Results.Redirect("/done", permanent: false, preserveMethod: false);
        });
        web.MapGet("/fake-log", (HttpContext context) => site!.Log.ServeAsync(context));
        // A page that breaks the policy, to prove that the tests notice when a page does.
        web.MapGet("/policy-breaker", () => Results.Content(
            "<!DOCTYPE html><html lang=\"en\"><head><title>x</title></head><body><p style=\"color:red\">inline style</p><script>window.__inline = 1;</script></body></html>",
            "text/html; charset=utf-8"));
        await web.StartAsync();
        var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        site = new PageKitSite(web, address.TrimEnd('/'));
        return site;
    }

    private IResult HostilePage()
    {
        var deployed = DeployedAt ?? Now.AddMinutes(-3);
        var content = Html.Of($"""
            <div class="table-scroll">
            <table>
            <caption>Recent deployments</caption>
            <thead><tr><th scope="col">Ref</th><th scope="col">Environment</th><th scope="col">Message</th><th scope="col">When</th></tr></thead>
            <tbody>
            <tr><td class="ref">{HostileRef}</td><td class="environment">{HostileEnvironment}</td><td class="message" title="{HostileMessage}">{HostileMessage}</td><td class="when">{RelativeTime.Tag(deployed, Now)}</td></tr>
            </tbody>
            </table>
            </div>
            <form method="post" action="/actions/cancel" data-confirm="Cancel the deploy of {HostileRef} to {HostileEnvironment}?">
            <button type="submit" class="danger">Cancel deployment</button>
            </form>
            <form method="post" action="/actions/note">
            <div class="field"><label for="note">Note</label><input id="note" name="note" value="{HostileRef}"></div>
            <button type="submit">Save note</button>
            </form>
            {LiveLogView.Render("/fake-log", 7)}
            """);
        return PageLayout.Result($"Deploy {HostileRef} to {HostileEnvironment}", PageSection.Dashboard, new PageChrome(new SignedInUser(HostileLogin)), content);
    }

    private IResult LayoutPage()
    {
        var rows = Enumerable.Range(1, 8).Select(n => Html.Of($"""
            <tr><td>{n}</td><td>octo-org/a-repository-with-a-rather-long-name</td><td>production-eu-west-{n}</td><td>feature/some-long-branch-name-{n}</td><td>{RelativeTime.Tag(Now.AddMinutes(-n * 7), Now)}</td><td class="state-success">success</td></tr>
            """));
        var content = Html.Of($"""
            <div class="table-scroll">
            <table>
            <caption>Deployments</caption>
            <thead><tr><th scope="col">#</th><th scope="col">Repository</th><th scope="col">Environment</th><th scope="col">Ref</th><th scope="col">When</th><th scope="col">State</th></tr></thead>
            <tbody>{rows}</tbody>
            </table>
            </div>
            <form method="post" action="/actions/lock">
            <div class="field"><label for="environment">Environment</label><input id="environment" name="environment"></div>
            <div class="field"><label for="reason">Reason</label><input id="reason" name="reason"></div>
            <button type="submit">Lock</button>
            </form>
            """);
        return PageLayout.Result("Dashboard", PageSection.Dashboard, new PageChrome(new SignedInUser("octocat")), content);
    }

    public async ValueTask DisposeAsync()
    {
        Log.Complete();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>
/// The live log's event stream as Heaven's <c>GET /api/v1/deployments/{id}/log</c> sends it
/// (<c>line</c> events with the line number as id, then one <c>end</c>), one frame at a time as the
/// test sends them; <see cref="Drop"/> ends the response mid-way, as a restarted node or a proxy would.
/// </summary>
public sealed class FakeLogStream
{
    private readonly Channel<Frame> frames = Channel.CreateUnbounded<Frame>();
    private readonly ConcurrentQueue<string?> connections = new();

    /// <summary>The <c>Last-Event-ID</c> each connection sent, in order (null: none).</summary>
    public IReadOnlyList<string?> Connections => connections.ToArray();

    public void Line(long id, string text, string stream = "stdout") => frames.Writer.TryWrite(new LineFrame(id, stream, text));

    public void End(string state, string description) => frames.Writer.TryWrite(new EndFrame(state, description));

    public void Drop() => frames.Writer.TryWrite(new DropFrame());

    public Task WaitForConnectionsAsync(int count) =>
        Poll.UntilAsync(() => connections.Count >= count, $"the browser to open log stream connection {count}", state: () => $"{connections.Count} connections");

    internal void Complete() => frames.Writer.TryComplete();

    internal async Task ServeAsync(HttpContext context)
    {
        var lastEventId = context.Request.Headers["Last-Event-ID"].ToString();
        connections.Enqueue(lastEventId.Length == 0 ? null : lastEventId);
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        var aborted = context.RequestAborted;
        try
        {
            // Reconnect quickly after a drop: the test waits for it.
            await response.WriteAsync("retry: 100\n\n", aborted);
            await response.Body.FlushAsync(aborted);
            await foreach (var frame in frames.Reader.ReadAllAsync(aborted))
            {
                switch (frame)
                {
                    case LineFrame line:
                        var data = JsonSerializer.Serialize(new { stream = line.Stream, text = line.Text });
                        await response.WriteAsync($"event: line\nid: {line.Id}\ndata: {data}\n\n", aborted);
                        break;
                    case EndFrame end:
                        await response.WriteAsync($"event: end\ndata: {JsonSerializer.Serialize(new { state = end.State, description = end.Description })}\n\n", aborted);
                        await response.Body.FlushAsync(aborted);
                        return;
                    case DropFrame:
                        return;
                }

                await response.Body.FlushAsync(aborted);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The browser went away.
        }
    }

    private abstract record Frame;

    private sealed record LineFrame(long Id, string Stream, string Text) : Frame;

    private sealed record EndFrame(string State, string Description) : Frame;

    private sealed record DropFrame : Frame;
}
