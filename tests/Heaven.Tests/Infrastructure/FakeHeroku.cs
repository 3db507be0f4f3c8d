using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Heaven.Tests.Infrastructure;

/// <summary>How one build on the fake Heroku goes: the lines it prints (one every <see cref="LineDelay"/>), then its outcome.</summary>
public sealed class HerokuBuildPlan
{
    public IReadOnlyList<string> Lines { get; init; } = ["-----> Building on the Heroku-24 stack", "-----> Launching...", "       Released v42"];

    public TimeSpan LineDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary><c>succeeded</c> or <c>failed</c>.</summary>
    public string Outcome { get; init; } = "succeeded";

    /// <summary>When set, the build stays <c>pending</c> after its last line (its output stream open) until this completes.</summary>
    public TaskCompletionSource? Hold { get; init; }
}

/// <summary>A build the fake is running or ran.</summary>
public sealed class FakeHerokuBuild
{
    private readonly Lock gate = new();
    private readonly List<string> lines = [];
    private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public required string Id { get; init; }

    public required string App { get; init; }

    public required string SourceUrl { get; init; }

    public required string Version { get; init; }

    public string Status { get; private set; } = "pending";

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (gate)
            {
                return [.. lines];
            }
        }
    }

    internal (IReadOnlyList<string> Lines, bool Done, Task Changed) Snapshot(int from)
    {
        lock (gate)
        {
            return (lines.Skip(from).ToList(), Status != "pending", changed.Task);
        }
    }

    internal void Add(string line) => Change(() => lines.Add(line));

    internal void Finish(string outcome) => Change(() => Status = outcome);

    private void Change(Action change)
    {
        TaskCompletionSource old;
        lock (gate)
        {
            change();
            old = changed;
            changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        old.TrySetResult();
    }
}

/// <summary>
/// A real HTTP server on 127.0.0.1 answering like Heroku's Platform API for builds: it checks the API
/// key and the version-3 media type, records every request, runs builds by a plan (lines printed over
/// time, held pending on demand, then succeeded or failed) and serves each build's output as a stream
/// that follows the build while it runs, from the start on every request, as Heroku's does.
/// Put <see cref="ApiUrl"/> into <c>Providers:Heroku:ApiUrl</c>.
/// </summary>
/// <remarks>Routes for faults: <c>builds-create</c>, <c>build</c>, <c>stream</c>.</remarks>
public sealed class FakeHeroku : IAsyncDisposable
{
    public const string ApiKey = "HRKU-fake0123456789abcdefABCDEF0123456789";

    private static readonly (string Method, Regex Pattern, string Route)[] Routes =
    [
        ("POST", new Regex("^/apps/([^/]+)/builds$"), "builds-create"),
        ("GET", new Regex("^/apps/([^/]+)/builds/([^/]+)$"), "build"),
        ("GET", new Regex("^/streams/([^/]+)$"), "stream"),
    ];

    private readonly Lock gate = new();
    private readonly List<RecordedRequest> requests = [];
    private readonly Dictionary<string, FakeHerokuBuild> builds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HerokuBuildPlan> plans = new(StringComparer.Ordinal);
    private readonly List<(string Route, int Status, int Remaining)> faults = [];
    private readonly CancellationTokenSource stopping = new();
    private WebApplication? app;
    private int port;

    private FakeHeroku()
    {
    }

    public string ApiUrl => $"http://127.0.0.1:{port}";

    /// <summary>Apps that exist; a build for any other app is answered 404 as Heroku does.</summary>
    public HashSet<string> Apps { get; } = new(StringComparer.Ordinal) { "zero-fucks-hubot", "my-robot-production", "my-robot-staging" };

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (gate)
            {
                return [.. requests];
            }
        }
    }

    public IReadOnlyList<FakeHerokuBuild> Builds
    {
        get
        {
            lock (gate)
            {
                return [.. builds.Values];
            }
        }
    }

    public static async Task<FakeHeroku> StartAsync()
    {
        var fake = new FakeHeroku();
        await fake.ListenAsync();
        return fake;
    }

    public IReadOnlyList<RecordedRequest> RequestsTo(string route) => Requests.Where(r => r.Route == route).ToList();

    /// <summary>The plan for the next builds of <paramref name="app"/> (the default plan otherwise).</summary>
    public void Plan(string app, HerokuBuildPlan plan)
    {
        lock (gate)
        {
            plans[app] = plan;
        }
    }

    /// <summary>The next <paramref name="times"/> requests to <paramref name="route"/> are answered with <paramref name="status"/>.</summary>
    public void FailNext(string route, int status, int times = 1)
    {
        lock (gate)
        {
            faults.Add((route, status, times));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        stopping.Dispose();
    }

    private async Task ListenAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var web = builder.Build();
        web.Run(HandleAsync);
        await web.StartAsync();
        port = new Uri(web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        app = web;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var path = request.Path.Value ?? "/";
        var (route, match) = Match(request.Method, path);
        int? fault = null;
        lock (gate)
        {
            var index = faults.FindIndex(f => f.Route == route);
            if (index >= 0)
            {
                var (r, status, remaining) = faults[index];
                fault = status;
                if (remaining <= 1)
                {
                    faults.RemoveAt(index);
                }
                else
                {
                    faults[index] = (r, status, remaining - 1);
                }
            }
        }

        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        void Record(int status)
        {
            lock (gate)
            {
                requests.Add(new RecordedRequest(DateTimeOffset.UtcNow, request.Method, path, path, request.QueryString.Value ?? "", route, headers, body, status));
            }
        }

        if (fault is { } failed)
        {
            Record(failed);
            await WriteJsonAsync(context, failed, Error("service_unavailable", "The fake is failing on purpose."));
            return;
        }

        if (route == "stream")
        {
            await StreamAsync(context, match!.Groups[1].Value, Record);
            return;
        }

        var (code, answer) = Answer(route, match, headers, body);
        Record(code);
        await WriteJsonAsync(context, code, answer);
    }

    private (int Status, JsonNode Body) Answer(string route, Match? match, IReadOnlyDictionary<string, string> headers, string body)
    {
        if (route == "unknown")
        {
            return (404, Error("not_found", "The requested API endpoint was not found."));
        }

        if (headers.GetValueOrDefault("Authorization") != $"Bearer {ApiKey}")
        {
            return (401, Error("unauthorized", "Invalid credentials provided."));
        }

        if (headers.GetValueOrDefault("Accept") is not { } accept || !accept.Contains("application/vnd.heroku+json; version=3", StringComparison.Ordinal))
        {
            return (400, Error("bad_request", "Please specify a version along with Heroku's API MIME type. For example, `Accept: application/vnd.heroku+json; version=3`."));
        }

        var appName = Uri.UnescapeDataString(match!.Groups[1].Value);
        lock (gate)
        {
            if (!Apps.Contains(appName))
            {
                return (404, Error("not_found", "Couldn't find that app."));
            }
        }

        if (route == "build")
        {
            lock (gate)
            {
                return builds.TryGetValue(match.Groups[2].Value, out var known) && known.App == appName
                    ? (200, BuildJson(known))
                    : (404, Error("not_found", "Couldn't find that build."));
            }
        }

        var json = JsonNode.Parse(body) as JsonObject;
        var url = (string?)json?["source_blob"]?["url"];
        var version = (string?)json?["source_blob"]?["version"];
        if (url is null)
        {
            return (422, Error("invalid_params", "source_blob.url is required."));
        }

        var build = new FakeHerokuBuild { Id = Guid.NewGuid().ToString(), App = appName, SourceUrl = url, Version = version ?? "" };
        HerokuBuildPlan plan;
        lock (gate)
        {
            builds[build.Id] = build;
            plan = plans.GetValueOrDefault(appName) ?? new HerokuBuildPlan();
        }

        _ = Task.Run(() => RunAsync(build, plan));
        return (201, BuildJson(build));
    }

    private async Task RunAsync(FakeHerokuBuild build, HerokuBuildPlan plan)
    {
        try
        {
            foreach (var line in plan.Lines)
            {
                await Task.Delay(plan.LineDelay, stopping.Token);
                build.Add(line);
            }

            if (plan.Hold is { } hold)
            {
                await hold.Task.WaitAsync(stopping.Token);
            }

            build.Finish(plan.Outcome);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task StreamAsync(HttpContext context, string id, Action<int> record)
    {
        FakeHerokuBuild? build;
        lock (gate)
        {
            build = builds.GetValueOrDefault(id);
        }

        if (build is null)
        {
            record(404);
            context.Response.StatusCode = 404;
            return;
        }

        record(200);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.StartAsync(context.RequestAborted);
        var sent = 0;
        try
        {
            while (true)
            {
                var (lines, done, changed) = build.Snapshot(sent);
                foreach (var line in lines)
                {
                    await context.Response.WriteAsync(line + "\n", context.RequestAborted);
                }

                sent += lines.Count;
                await context.Response.Body.FlushAsync(context.RequestAborted);
                if (done && lines.Count == 0)
                {
                    return;
                }

                if (!done)
                {
                    await changed.WaitAsync(context.RequestAborted);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Heaven went away (the deploy ended or was cancelled).
        }
    }

    private JsonObject BuildJson(FakeHerokuBuild build) => new()
    {
        ["id"] = build.Id,
        ["status"] = build.Status,
        ["output_stream_url"] = $"{ApiUrl}/streams/{build.Id}",
        ["source_blob"] = new JsonObject { ["url"] = build.SourceUrl, ["version"] = build.Version, ["checksum"] = null },
        ["app"] = new JsonObject { ["id"] = "01234567-89ab-cdef-0123-456789abcdef", ["name"] = build.App },
        ["stack"] = "heroku-24",
        ["created_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        ["updated_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        ["user"] = new JsonObject { ["email"] = "atmos@example.com", ["id"] = "01234567-89ab-cdef-0123-456789abcdef" },
    };

    private static JsonObject Error(string id, string message) => new() { ["id"] = id, ["message"] = message };

    private static async Task WriteJsonAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    private static (string Route, Match? Match) Match(string method, string path)
    {
        foreach (var (routeMethod, pattern, route) in Routes)
        {
            var match = pattern.Match(path);
            if (match.Success && routeMethod == method)
            {
                return (route, match);
            }
        }

        return ("unknown", null);
    }
}
