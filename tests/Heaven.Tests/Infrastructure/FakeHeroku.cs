using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

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

    /// <summary>When set, the build prints its first <c>AfterLines</c> lines, then prints nothing more until <c>Until</c> completes.</summary>
    public (int AfterLines, Task Until)? Pause { get; init; }
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
public sealed class FakeHeroku : FakeHttpServer
{
    public const string ApiKey = "HRKU-fake0123456789abcdefABCDEF0123456789";

    private readonly Dictionary<string, FakeHerokuBuild> builds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HerokuBuildPlan> plans = new(StringComparer.Ordinal);

    private FakeHeroku()
        : base(
            ("POST", "^/apps/([^/]+)/builds$", "builds-create"),
            ("GET", "^/apps/([^/]+)/builds/([^/]+)$", "build"),
            ("GET", "^/streams/([^/]+)$", "stream"))
    {
    }

    public string ApiUrl => Root;

    /// <summary>Apps that exist; a build for any other app is answered 404 as Heroku does.</summary>
    public HashSet<string> Apps { get; } = new(StringComparer.Ordinal) { "zero-fucks-hubot", "my-robot-production", "my-robot-staging" };

    public IReadOnlyList<FakeHerokuBuild> Builds
    {
        get
        {
            lock (Gate)
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

    /// <summary>The plan for the next builds of <paramref name="app"/> (the default plan otherwise).</summary>
    public void Plan(string app, HerokuBuildPlan plan)
    {
        lock (Gate)
        {
            plans[app] = plan;
        }
    }

    /// <summary>The next <paramref name="times"/> requests to <paramref name="route"/> are answered with <paramref name="status"/>.</summary>
    public void FailNext(string route, int status, int times = 1) =>
        AddFault(route, FakeReply.Json(status, Error("service_unavailable", "The fake is failing on purpose.")), times);

    protected override Task<FakeReply> AnswerAsync(FakeRequest request, CancellationToken cancellationToken)
    {
        if (request.Route == "stream")
        {
            return Task.FromResult(Stream(request.Match!.Groups[1].Value));
        }

        var (code, answer) = Answer(request.Route, request.Match, request.Headers, request.Body);
        return Task.FromResult(FakeReply.Json(code, answer));
    }

    private (int Status, JsonNode Body) Answer(string route, Match? match, IReadOnlyDictionary<string, string> headers, string body)
    {
        if (route == UnknownRoute)
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
        lock (Gate)
        {
            if (!Apps.Contains(appName))
            {
                return (404, Error("not_found", "Couldn't find that app."));
            }
        }

        if (route == "build")
        {
            lock (Gate)
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
        lock (Gate)
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
            for (var i = 0; i < plan.Lines.Count; i++)
            {
                if (plan.Pause is { } pause && pause.AfterLines == i)
                {
                    await pause.Until.WaitAsync(Stopping);
                }

                await Task.Delay(plan.LineDelay, Stopping);
                build.Add(plan.Lines[i]);
            }

            if (plan.Hold is { } hold)
            {
                await hold.Task.WaitAsync(Stopping);
            }

            build.Finish(plan.Outcome);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The build's output from the start, following the build while it runs, as Heroku's stream does.</summary>
    private FakeReply Stream(string id)
    {
        FakeHerokuBuild? build;
        lock (Gate)
        {
            build = builds.GetValueOrDefault(id);
        }

        if (build is null)
        {
            return new FakeReply(404);
        }

        return new FakeReply(200, ContentType: "text/plain; charset=utf-8")
        {
            Stream = async (response, cancellationToken) =>
            {
                var sent = 0;
                while (true)
                {
                    var (lines, done, changed) = build.Snapshot(sent);
                    foreach (var line in lines)
                    {
                        await response.WriteAsync(line + "\n", cancellationToken);
                    }

                    sent += lines.Count;
                    await response.Body.FlushAsync(cancellationToken);
                    if (done && lines.Count == 0)
                    {
                        return;
                    }

                    if (!done)
                    {
                        await changed.WaitAsync(cancellationToken);
                    }
                }
            },
        };
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
}
