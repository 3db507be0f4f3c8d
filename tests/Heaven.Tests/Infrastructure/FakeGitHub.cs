using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
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

/// <summary>One request as the fake received it, with the status it answered. Path is without the <c>/api/v3</c> prefix; RawPath as sent.</summary>
public sealed record RecordedRequest(
    DateTimeOffset At,
    string Method,
    string RawPath,
    string Path,
    string Query,
    string Route,
    IReadOnlyDictionary<string, string> Headers,
    string Body,
    int Status)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public JsonElement Json() => JsonDocument.Parse(Body).RootElement.Clone();
}

/// <summary>A deployment status GitHub accepted (201).</summary>
public sealed record PostedStatus(
    long Id,
    string Repository,
    long DeploymentId,
    string State,
    string? Description,
    string? LogUrl,
    string? EnvironmentUrl,
    string? Environment,
    DateTimeOffset At,
    string Body);

/// <summary>A commit the compare API lists.</summary>
public sealed record FakeCommit(string Sha, string Message, string? Login = null, string? AuthorName = null);

/// <summary>A check run on a commit: status queued/in_progress/completed, conclusion once completed.</summary>
public sealed record FakeCheckRun(string Name, string Status = "completed", string? Conclusion = "success");

public sealed class FakeGist
{
    public required string Id { get; init; }

    public required string HtmlUrl { get; init; }

    public string? Description { get; set; }

    public bool Public { get; init; }

    public Dictionary<string, string> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>How many PATCH requests changed it.</summary>
    public int Updates { get; set; }
}

/// <summary>
/// A real HTTP server on 127.0.0.1 that answers like GitHub's REST API, under <c>/api/v3</c> (where
/// Octokit sends anything that is not github.com) and without it. It records every request, keeps
/// what was created (statuses, gists, deployments), and fails, rate-limits, slows down or goes away
/// on demand. Put <see cref="ApiUrl"/> into <c>GitHub:ApiUrl</c>.
/// </summary>
/// <remarks>
/// Route names for fault injection: <c>statuses</c>, <c>statuses-list</c>, <c>deployments</c>,
/// <c>deployments-list</c>, <c>gists</c>, <c>gist-update</c>, <c>gist</c>, <c>meta</c>,
/// <c>compare</c>, <c>commit-status</c>, <c>check-runs</c>, <c>repository</c>, <c>tarball</c>, <c>tarball-download</c>,
/// and <c>*</c> for every route.
/// </remarks>
public sealed class FakeGitHub : IAsyncDisposable
{
    public const string AnyRoute = "*";

    private static readonly (string Method, Regex Pattern, string Route)[] Routes =
    [
        ("POST", new Regex("^/repos/([^/]+)/([^/]+)/deployments/([0-9]+)/statuses$"), "statuses"),
        ("GET", new Regex("^/repos/([^/]+)/([^/]+)/deployments/([0-9]+)/statuses$"), "statuses-list"),
        ("POST", new Regex("^/repos/([^/]+)/([^/]+)/deployments$"), "deployments"),
        ("GET", new Regex("^/repos/([^/]+)/([^/]+)/deployments$"), "deployments-list"),
        ("POST", new Regex("^/gists$"), "gists"),
        ("PATCH", new Regex("^/gists/([^/]+)$"), "gist-update"),
        ("GET", new Regex("^/gists/([^/]+)$"), "gist"),
        ("GET", new Regex("^/meta$"), "meta"),
        ("GET", new Regex("^/repos/([^/]+)/([^/]+)/compare/(.+)$"), "compare"),
        ("GET", new Regex("^/repos/([^/]+)/([^/]+)/commits/(.+)/status$"), "commit-status"),
        ("GET", new Regex("^/repos/([^/]+)/([^/]+)/commits/(.+)/check-runs$"), "check-runs"),
        ("GET", new Regex("^/repos/([^/]+)/([^/]+)/tarball/(.+)$"), "tarball"),
        ("GET", new Regex("^/_codeload/([^/]+)/([^/]+)/tar.gz/(.+)$"), "tarball-download"),
        ("GET", new Regex("^/repos/([^/]+)/([^/]+)$"), "repository"),
    ];

    private static readonly string[] ValidStates = ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"];

    private readonly object gate = new();
    private readonly List<RecordedRequest> requests = [];
    private readonly List<PostedStatus> statuses = [];
    private readonly Dictionary<string, FakeGist> gists = new(StringComparer.Ordinal);
    private readonly List<JsonObject> deployments = [];
    private readonly List<Fault> faults = [];
    private readonly Dictionary<string, TimeSpan> delays = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Status, int AheadBy, int BehindBy, FakeCommit[] Commits)> comparisons = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeCheckRun[]> checkRuns = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string State, (string Context, string State)[] Statuses)> combinedStatuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> tarballs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> defaultBranches = new(StringComparer.OrdinalIgnoreCase);
    private WebApplication? app;
    private int port;
    private int? downStatus;
    private string? metaBody;
    private int? metaFailure;
    private long nextId = 1000;

    private FakeGitHub()
    {
    }

    /// <summary>The server's root, e.g. <c>http://127.0.0.1:41234/</c>: the value for <c>GitHub:ApiUrl</c>.</summary>
    public string ApiUrl => $"http://127.0.0.1:{port}/";

    /// <summary>Where the REST API answers, as Octokit addresses it.</summary>
    public Uri RestBase => new($"http://127.0.0.1:{port}/api/v3/");

    /// <summary>
    /// The short-lived token GitHub puts into the query of a private repository's tarball link; the
    /// download route does not check it, a test checks it goes nowhere it should not.
    /// </summary>
    public string TarballToken { get; } = "AABTARBALL" + Guid.NewGuid().ToString("N").ToUpperInvariant();

    /// <summary>What <c>GET /meta</c> lists as webhook source ranges.</summary>
    public List<string> MetaHooks { get; } = ["192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20"];

    /// <summary><c>GET /meta</c> lists these <c>hooks</c> ranges from now on (and answers again after <see cref="FailMeta"/>).</summary>
    public FakeGitHub ServeMetaHooks(params string[] hooks)
    {
        lock (gate)
        {
            MetaHooks.Clear();
            MetaHooks.AddRange(hooks);
            metaBody = null;
            metaFailure = null;
        }

        return this;
    }

    /// <summary><c>GET /meta</c> answers exactly this body from now on (a fixture, or a malformed answer).</summary>
    public FakeGitHub ServeMetaBody(string json)
    {
        lock (gate)
        {
            metaBody = json;
            metaFailure = null;
        }

        return this;
    }

    /// <summary><c>GET /meta</c> fails with <paramref name="status"/> until it is served again.</summary>
    public FakeGitHub FailMeta(int status = 500)
    {
        lock (gate)
        {
            metaFailure = status;
        }

        return this;
    }

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (gate)
            {
                return requests.ToList();
            }
        }
    }

    /// <summary>Every accepted status, in the order they arrived.</summary>
    public IReadOnlyList<PostedStatus> Statuses
    {
        get
        {
            lock (gate)
            {
                return statuses.ToList();
            }
        }
    }

    public IReadOnlyDictionary<string, FakeGist> Gists
    {
        get
        {
            lock (gate)
            {
                return gists.ToDictionary(g => g.Key, g => g.Value);
            }
        }
    }

    /// <summary>The bodies of accepted <c>POST /repos/{o}/{r}/deployments</c> answers, in order.</summary>
    public IReadOnlyList<JsonObject> CreatedDeployments
    {
        get
        {
            lock (gate)
            {
                // Deployments seeded with AddDeployment were not posted: they carry no request.
                return deployments.Where(d => d["request"] is not null).Select(d => (JsonObject)d.DeepClone()).ToList();
            }
        }
    }

    public static async Task<FakeGitHub> StartAsync()
    {
        var fake = new FakeGitHub();
        await fake.ListenAsync(0);
        return fake;
    }

    public IReadOnlyList<RecordedRequest> RequestsTo(string route) => Requests.Where(r => r.Route == route).ToList();

    /// <summary>The accepted statuses of one deployment, in order.</summary>
    public IReadOnlyList<PostedStatus> StatusesFor(string repository, long deploymentId) =>
        Statuses.Where(s => string.Equals(s.Repository, repository, StringComparison.OrdinalIgnoreCase) && s.DeploymentId == deploymentId).ToList();

    public async Task<PostedStatus> WaitForStatusAsync(Func<PostedStatus, bool> predicate, TimeSpan? timeout = null)
    {
        PostedStatus? found = null;
        await WaitUntilAsync(() => (found = Statuses.FirstOrDefault(predicate)) is not null, timeout, "a matching deployment status");
        return found!;
    }

    /// <summary>Waits until <paramref name="condition"/> holds; on timeout, fails with what the fake did receive.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (!condition())
        {
            if (DateTimeOffset.UtcNow > deadline)
            {
                var seen = string.Join("\n", Requests.Select(r => $"  {r.At:HH:mm:ss.fff} {r.Method} {r.Path} -> {r.Status} {r.Body}"));
                throw new TimeoutException($"FakeGitHub: gave up waiting for {what ?? "the condition"}. Requests received:\n{seen}");
            }

            await Task.Delay(20);
        }
    }

    public FakeGist Gist(string id)
    {
        lock (gate)
        {
            return gists[id];
        }
    }

    /// <summary>The next <paramref name="times"/> requests to <paramref name="route"/> get this answer instead.</summary>
    public void FailNext(string route, int statusCode, int times = 1, string? message = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        var body = new JsonObject
        {
            ["message"] = message ?? ((HttpStatusCode)statusCode).ToString(),
            ["documentation_url"] = "https://docs.github.com/rest",
        };
        AddFault(route, new CannedResponse(statusCode, body.ToJsonString(), headers ?? new Dictionary<string, string>()), times);
    }

    /// <summary>GitHub's secondary rate limit: 403, a Retry-After header and its usual message.</summary>
    public void RateLimitNext(string route, int retryAfterSeconds, int times = 1) =>
        FailNext(route, 403, times,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            new Dictionary<string, string> { ["Retry-After"] = retryAfterSeconds.ToString(CultureInfo.InvariantCulture) });

    /// <summary>GitHub's primary rate limit used up: 403 with X-RateLimit-Remaining 0 and the reset time.</summary>
    public void RateLimitExhaustedNext(string route, DateTimeOffset reset, int times = 1) =>
        FailNext(route, 403, times, "API rate limit exceeded for user ID 1.", new Dictionary<string, string>
        {
            ["X-RateLimit-Limit"] = "5000",
            ["X-RateLimit-Remaining"] = "0",
            ["X-RateLimit-Used"] = "5000",
            ["X-RateLimit-Reset"] = reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            ["X-RateLimit-Resource"] = "core",
        });

    /// <summary>Every request to <paramref name="route"/> waits this long before it is answered (null: no longer).</summary>
    public void Delay(string route, TimeSpan? delay)
    {
        lock (gate)
        {
            if (delay is { } d)
            {
                delays[route] = d;
            }
            else
            {
                delays.Remove(route);
            }
        }
    }

    /// <summary>Answers every request with <paramref name="statusCode"/> (a proxy in front of a GitHub that is down) until <see cref="Recover"/>.</summary>
    public void GoDown(int statusCode = 502)
    {
        lock (gate)
        {
            downStatus = statusCode;
        }
    }

    public void Recover()
    {
        lock (gate)
        {
            downStatus = null;
        }
    }

    /// <summary>Drops every pending <see cref="FailNext"/> and <see cref="Delay"/>.</summary>
    public void ClearFaults()
    {
        lock (gate)
        {
            faults.Clear();
            delays.Clear();
        }
    }

    /// <summary>Stops listening: connections are refused until <see cref="RestartAsync"/>. What was created is kept.</summary>
    public async Task StopAsync()
    {
        if (app is { } running)
        {
            app = null;
            await running.StopAsync();
            await running.DisposeAsync();
        }
    }

    /// <summary>Listens again on the same port.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await ListenAsync(port);
    }

    /// <summary>What <c>GET compare/base...head</c> answers; <paramref name="commits"/> are listed oldest first, as GitHub does.</summary>
    public void SetCompare(string repository, string @base, string head, string status, int aheadBy, int behindBy = 0, params FakeCommit[] commits)
    {
        lock (gate)
        {
            comparisons[$"{repository}:{@base}...{head}".ToLowerInvariant()] = (status, aheadBy, behindBy, commits);
        }
    }

    /// <summary>What <c>GET commits/{ref}/check-runs</c> lists.</summary>
    public void SetCheckRuns(string repository, string @ref, params FakeCheckRun[] runs)
    {
        lock (gate)
        {
            checkRuns[$"{repository}:{@ref}".ToLowerInvariant()] = runs;
        }
    }

    /// <summary>
    /// A deployment that exists on GitHub before the test (made by hand or by another system), with
    /// its statuses in order (the last is the current one). Returns its id.
    /// </summary>
    public long AddDeployment(string repository, string sha, string environment, JsonObject? payload = null, string @ref = "main", params string[] statesInOrder)
    {
        lock (gate)
        {
            var id = nextId++;
            var at = DateTimeOffset.UtcNow.AddMinutes(-deployments.Count - 10);
            var deployment = new JsonObject
            {
                ["url"] = $"{ApiUrl}repos/{repository}/deployments/{id}",
                ["id"] = id,
                ["node_id"] = $"DE_{id}",
                ["sha"] = sha,
                ["ref"] = @ref,
                ["task"] = "deploy",
                ["payload"] = payload?.DeepClone() ?? new JsonObject(),
                ["original_environment"] = environment,
                ["environment"] = environment,
                ["description"] = null,
                ["creator"] = Owner(),
                ["created_at"] = Timestamp(at),
                ["updated_at"] = Timestamp(at),
                ["statuses_url"] = $"{ApiUrl}repos/{repository}/deployments/{id}/statuses",
                ["repository_url"] = $"{ApiUrl}repos/{repository}",
            };
            deployments.Add(deployment);
            foreach (var state in statesInOrder)
            {
                statuses.Add(new PostedStatus(nextId++, repository, id, state, null, null, null, environment, at, "{}"));
            }

            return id;
        }
    }

    public void SetCombinedStatus(string repository, string @ref, string state, params (string Context, string State)[] contexts)
    {
        lock (gate)
        {
            combinedStatuses[$"{repository}:{@ref}".ToLowerInvariant()] = (state, contexts);
        }
    }

    public void SetTarball(string repository, string @ref, byte[] content)
    {
        lock (gate)
        {
            tarballs[$"{repository}:{@ref}".ToLowerInvariant()] = content;
        }
    }

    public void SetDefaultBranch(string repository, string branch)
    {
        lock (gate)
        {
            defaultBranches[repository] = branch;
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task ListenAsync(int onPort)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, onPort));
        builder.Logging.ClearProviders();
        var web = builder.Build();
        web.Run(HandleAsync);
        await web.StartAsync();
        var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        port = new Uri(address).Port;
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
        if (path.StartsWith("/api/v3/", StringComparison.Ordinal) || path == "/api/v3")
        {
            path = path["/api/v3".Length..];
        }

        var (route, match) = Match(request.Method, path);
        CannedResponse? canned;
        TimeSpan delay;
        lock (gate)
        {
            canned = downStatus is { } down
                ? new CannedResponse(down, "<html><body><h1>502 Bad Gateway</h1></body></html>", new Dictionary<string, string>(), "text/html")
                : TakeFault(route);
            delay = delays.TryGetValue(route, out var d) ? d : delays.GetValueOrDefault(AnyRoute);
        }

        if (delay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(delay, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                Record(context, path, route, body, 499);
                return;
            }
        }

        var answer = canned ?? Answer(request.Method, route, match, body, request.Query);
        Record(context, path, route, body, answer.Status);
        context.Response.StatusCode = answer.Status;
        foreach (var (name, value) in answer.Headers)
        {
            context.Response.Headers[name] = value;
        }

        context.Response.Headers["X-GitHub-Request-Id"] = Guid.NewGuid().ToString("N")[..16];
        if (answer.Bytes is { } bytes)
        {
            context.Response.ContentType = answer.ContentType;
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
        }
        else if (answer.Body.Length > 0)
        {
            context.Response.ContentType = answer.ContentType;
            await context.Response.WriteAsync(answer.Body, context.RequestAborted);
        }
    }

    private static (string Route, Match? Match) Match(string method, string path)
    {
        foreach (var (routeMethod, pattern, route) in Routes)
        {
            var match = pattern.Match(path);
            if (match.Success && string.Equals(routeMethod, method, StringComparison.OrdinalIgnoreCase))
            {
                return (route, match);
            }
        }

        return ("unknown", null);
    }

    private CannedResponse? TakeFault(string route)
    {
        var fault = faults.FirstOrDefault(f => f.Route == route) ?? faults.FirstOrDefault(f => f.Route == AnyRoute);
        if (fault is null)
        {
            return null;
        }

        if (--fault.Remaining <= 0)
        {
            faults.Remove(fault);
        }

        return fault.Response;
    }

    private void AddFault(string route, CannedResponse response, int times)
    {
        lock (gate)
        {
            faults.Add(new Fault(route, response) { Remaining = times });
        }
    }

    private void Record(HttpContext context, string path, string route, string body, int status)
    {
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        lock (gate)
        {
            requests.Add(new RecordedRequest(DateTimeOffset.UtcNow, context.Request.Method, context.Request.Path.Value ?? "/", path, context.Request.QueryString.Value ?? "", route, headers, body, status));
        }
    }

    private CannedResponse Answer(string method, string route, Match? match, string body, IQueryCollection query)
    {
        JsonObject? json = null;
        if (method is "POST" or "PATCH" && route != "unknown")
        {
            try
            {
                // Like GitHub: the body is JSON whatever the Content-Type says (Octokit sends
                // form-urlencoded as the type of its JSON bodies).
                json = JsonNode.Parse(body) as JsonObject;
            }
            catch (JsonException)
            {
            }

            if (json is null)
            {
                return Error(400, "Problems parsing JSON");
            }
        }

        lock (gate)
        {
            return route switch
            {
                "statuses" => CreateStatus(match!, json!, body),
                "statuses-list" => Json(200, new JsonArray(statuses
                    .Where(s => s.Repository == Repo(match!) && s.DeploymentId == long.Parse(match!.Groups[3].Value, CultureInfo.InvariantCulture))
                    .Reverse()
                    .Select(s => (JsonNode)StatusJson(s))
                    .ToArray())),
                "deployments" => CreateDeployment(match!, json!),
                "deployments-list" => ListDeployments(match!, query),
                "gists" => CreateGist(json!),
                "gist-update" => UpdateGist(match!.Groups[1].Value, json!),
                "gist" => gists.TryGetValue(match!.Groups[1].Value, out var gist) ? Json(200, GistJson(gist)) : Error(404, "Not Found"),
                "meta" when metaFailure is { } failure => Error(failure, "Server Error"),
                "meta" when metaBody is not null => new CannedResponse(200, metaBody, new Dictionary<string, string>()),
                "meta" => Json(200, new JsonObject
                {
                    ["verifiable_password_authentication"] = false,
                    ["hooks"] = new JsonArray(MetaHooks.Select(h => (JsonNode?)JsonValue.Create(h)).ToArray()),
                    ["web"] = new JsonArray(),
                    ["api"] = new JsonArray(),
                    ["git"] = new JsonArray(),
                }),
                "compare" => Compare(match!),
                "commit-status" => CombinedStatus(match!),
                "check-runs" => CheckRuns(match!),
                "tarball" => tarballs.ContainsKey($"{Repo(match!)}:{match!.Groups[3].Value}".ToLowerInvariant())
                    ? new CannedResponse(302, "", new Dictionary<string, string> { ["Location"] = $"{ApiUrl}_codeload/{Repo(match!)}/tar.gz/{match!.Groups[3].Value}?token={TarballToken}" })
                    : Error(404, "Not Found"),
                "tarball-download" => tarballs.TryGetValue($"{Repo(match!)}:{match!.Groups[3].Value}".ToLowerInvariant(), out var bytes)
                    ? new CannedResponse(200, "", new Dictionary<string, string>(), "application/x-gzip", bytes)
                    : Error(404, "Not Found"),
                "repository" => Json(200, RepositoryJson(Repo(match!))),
                _ => Error(404, "Not Found"),
            };
        }
    }

    private CannedResponse CreateStatus(Match match, JsonObject json, string body)
    {
        var state = (string?)json["state"];
        if (state is null || !ValidStates.Contains(state))
        {
            return Validation("DeploymentStatus", "state", "invalid");
        }

        var description = (string?)json["description"];
        if (description is not null && description.EnumerateRunes().Count() > 140)
        {
            return Validation("DeploymentStatus", "description", "custom", "description is too long (maximum is 140 characters)");
        }

        var logUrl = (string?)json["log_url"] ?? (string?)json["target_url"];
        var status = new PostedStatus(
            nextId++,
            Repo(match),
            long.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture),
            state,
            description,
            logUrl,
            (string?)json["environment_url"],
            (string?)json["environment"],
            DateTimeOffset.UtcNow,
            body);
        statuses.Add(status);
        return Json(201, StatusJson(status));
    }

    private JsonObject StatusJson(PostedStatus status) => new()
    {
        ["url"] = $"{ApiUrl}repos/{status.Repository}/deployments/{status.DeploymentId}/statuses/{status.Id}",
        ["id"] = status.Id,
        ["node_id"] = $"DES_{status.Id}",
        ["state"] = status.State,
        ["creator"] = Owner(),
        ["description"] = status.Description ?? "",
        ["environment"] = status.Environment ?? "production",
        ["target_url"] = status.LogUrl ?? "",
        ["log_url"] = status.LogUrl ?? "",
        ["environment_url"] = status.EnvironmentUrl ?? "",
        ["created_at"] = Timestamp(status.At),
        ["updated_at"] = Timestamp(status.At),
        ["deployment_url"] = $"{ApiUrl}repos/{status.Repository}/deployments/{status.DeploymentId}",
        ["repository_url"] = $"{ApiUrl}repos/{status.Repository}",
    };

    private CannedResponse CreateDeployment(Match match, JsonObject json)
    {
        var @ref = (string?)json["ref"];
        if (string.IsNullOrEmpty(@ref))
        {
            return Validation("Deployment", "ref", "missing_field");
        }

        var repository = Repo(match);
        var id = nextId++;
        var now = Timestamp(DateTimeOffset.UtcNow);
        var deployment = new JsonObject
        {
            ["url"] = $"{ApiUrl}repos/{repository}/deployments/{id}",
            ["id"] = id,
            ["node_id"] = $"DE_{id}",
            ["sha"] = @ref.Length == 40 ? @ref : new string('a', 40),
            ["ref"] = @ref,
            ["task"] = (string?)json["task"] ?? "deploy",
            ["payload"] = json["payload"]?.DeepClone() ?? new JsonObject(),
            ["original_environment"] = (string?)json["environment"] ?? "production",
            ["environment"] = (string?)json["environment"] ?? "production",
            ["description"] = (string?)json["description"],
            ["creator"] = Owner(),
            ["created_at"] = now,
            ["updated_at"] = now,
            ["statuses_url"] = $"{ApiUrl}repos/{repository}/deployments/{id}/statuses",
            ["repository_url"] = $"{ApiUrl}repos/{repository}",
            ["transient_environment"] = (bool?)json["transient_environment"] ?? false,
            ["production_environment"] = (bool?)json["production_environment"] ?? false,
            ["request"] = json.DeepClone(),
        };
        deployments.Add(deployment);
        var answer = (JsonObject)deployment.DeepClone();
        answer.Remove("request");
        return Json(201, answer);
    }

    /// <summary>Newest first, filtered by <c>environment</c> and <c>sha</c>, at most <c>per_page</c> (GitHub's default 30).</summary>
    private CannedResponse ListDeployments(Match match, IQueryCollection query)
    {
        var environment = query["environment"].ToString();
        var sha = query["sha"].ToString();
        var perPage = int.TryParse(query["per_page"], CultureInfo.InvariantCulture, out var n) ? Math.Clamp(n, 1, 100) : 30;
        var listed = deployments
            .Where(d => (string?)d["repository_url"] == $"{ApiUrl}repos/{Repo(match)}")
            .Where(d => environment.Length == 0 || (string?)d["environment"] == environment)
            .Where(d => sha.Length == 0 || (string?)d["sha"] == sha)
            .Reverse()
            .Take(perPage)
            .Select(d =>
            {
                var copy = (JsonObject)d.DeepClone();
                copy.Remove("request");
                return (JsonNode)copy;
            })
            .ToArray();
        return Json(200, new JsonArray(listed));
    }

    private CannedResponse CheckRuns(Match match)
    {
        var runs = checkRuns.TryGetValue($"{Repo(match)}:{match.Groups[3].Value}".ToLowerInvariant(), out var known) ? known : [];
        return Json(200, new JsonObject
        {
            ["total_count"] = runs.Length,
            ["check_runs"] = new JsonArray(runs.Select((r, i) => (JsonNode)new JsonObject
            {
                ["id"] = 5000 + i,
                ["name"] = r.Name,
                ["head_sha"] = match.Groups[3].Value,
                ["status"] = r.Status,
                ["conclusion"] = r.Conclusion,
                ["started_at"] = Timestamp(DateTimeOffset.UtcNow.AddMinutes(-5)),
                ["app"] = new JsonObject { ["slug"] = "github-actions" },
            }).ToArray()),
        });
    }

    private CannedResponse CreateGist(JsonObject json)
    {
        if (json["files"] is not JsonObject files || files.Count == 0)
        {
            return Validation("Gist", "files", "missing_field");
        }

        var id = Guid.NewGuid().ToString("N");
        var gist = new FakeGist
        {
            Id = id,
            HtmlUrl = $"{ApiUrl}gist/{id}",
            Description = (string?)json["description"],
            Public = (bool?)json["public"] ?? false,
        };
        foreach (var (name, file) in files)
        {
            if ((string?)file?["content"] is not { Length: > 0 } content)
            {
                return Validation("Gist", "files", "missing_field");
            }

            gist.Files[name] = content;
        }

        gists[id] = gist;
        return Json(201, GistJson(gist));
    }

    private CannedResponse UpdateGist(string id, JsonObject json)
    {
        if (!gists.TryGetValue(id, out var gist))
        {
            return Error(404, "Not Found");
        }

        if (json.ContainsKey("description"))
        {
            gist.Description = (string?)json["description"];
        }

        if (json["files"] is JsonObject files)
        {
            foreach (var (name, file) in files)
            {
                if (file is null)
                {
                    gist.Files.Remove(name);
                    continue;
                }

                var content = (string?)file["content"] ?? gist.Files.GetValueOrDefault(name);
                var newName = (string?)file["filename"] ?? name;
                if (content is null)
                {
                    return Validation("Gist", "files", "missing_field");
                }

                gist.Files.Remove(name);
                gist.Files[newName] = content;
            }
        }

        gist.Updates++;
        return Json(200, GistJson(gist));
    }

    private JsonObject GistJson(FakeGist gist)
    {
        var files = new JsonObject();
        foreach (var (name, content) in gist.Files)
        {
            files[name] = new JsonObject
            {
                ["filename"] = name,
                ["type"] = "text/plain",
                ["language"] = "Text",
                ["raw_url"] = $"{ApiUrl}gist/{gist.Id}/raw/{Uri.EscapeDataString(name)}",
                ["size"] = Encoding.UTF8.GetByteCount(content),
                ["truncated"] = false,
                ["content"] = content,
            };
        }

        var now = Timestamp(DateTimeOffset.UtcNow);
        return new JsonObject
        {
            ["url"] = $"{ApiUrl}gists/{gist.Id}",
            ["id"] = gist.Id,
            ["node_id"] = $"G_{gist.Id}",
            ["html_url"] = gist.HtmlUrl,
            ["git_pull_url"] = $"{ApiUrl}{gist.Id}.git",
            ["git_push_url"] = $"{ApiUrl}{gist.Id}.git",
            ["public"] = gist.Public,
            ["description"] = gist.Description,
            ["files"] = files,
            ["comments"] = 0,
            ["created_at"] = now,
            ["updated_at"] = now,
            ["owner"] = Owner(),
        };
    }

    private CannedResponse Compare(Match match)
    {
        var basehead = match.Groups[3].Value;
        var parts = basehead.Split("...", 2);
        if (parts.Length != 2)
        {
            return Error(404, "Not Found");
        }

        var (status, ahead, behind, commits) = comparisons.TryGetValue($"{Repo(match)}:{basehead}".ToLowerInvariant(), out var known)
            ? known
            : parts[0] == parts[1] ? ("identical", 0, 0, []) : ("ahead", 1, 0, []);
        return Json(200, new JsonObject
        {
            ["status"] = status,
            ["ahead_by"] = ahead,
            ["behind_by"] = behind,
            ["total_commits"] = ahead,
            ["html_url"] = $"{ApiUrl}{Repo(match)}/compare/{basehead}",
            ["base_commit"] = new JsonObject { ["sha"] = parts[0] },
            ["merge_base_commit"] = new JsonObject { ["sha"] = parts[0] },
            ["commits"] = new JsonArray(commits.Select(c => (JsonNode)new JsonObject
            {
                ["sha"] = c.Sha,
                ["html_url"] = $"{ApiUrl}{Repo(match)}/commit/{c.Sha}",
                ["commit"] = new JsonObject
                {
                    ["message"] = c.Message,
                    ["author"] = new JsonObject { ["name"] = c.AuthorName ?? c.Login ?? "Someone", ["email"] = "someone@example.com" },
                },
                ["author"] = c.Login is null ? null : new JsonObject { ["login"] = c.Login, ["id"] = 7 },
            }).ToArray()),
            ["files"] = new JsonArray(),
        });
    }

    private CannedResponse CombinedStatus(Match match)
    {
        var @ref = match.Groups[3].Value;
        var (state, contexts) = combinedStatuses.TryGetValue($"{Repo(match)}:{@ref}".ToLowerInvariant(), out var known) ? known : ("pending", []);
        return Json(200, new JsonObject
        {
            ["state"] = state,
            ["sha"] = @ref.Length == 40 ? @ref : new string('a', 40),
            ["total_count"] = contexts.Length,
            ["statuses"] = new JsonArray(contexts.Select(c => (JsonNode)new JsonObject { ["context"] = c.Context, ["state"] = c.State }).ToArray()),
            ["repository"] = RepositoryJson(Repo(match)),
        });
    }

    private JsonObject RepositoryJson(string repository)
    {
        var name = repository.Split('/')[1];
        return new JsonObject
        {
            ["id"] = Math.Abs(StringComparer.OrdinalIgnoreCase.GetHashCode(repository)),
            ["name"] = name,
            ["full_name"] = repository,
            ["private"] = false,
            ["default_branch"] = defaultBranches.GetValueOrDefault(repository, "main"),
            ["owner"] = new JsonObject { ["login"] = repository.Split('/')[0], ["id"] = 1, ["type"] = "Organization" },
            ["html_url"] = $"{ApiUrl}{repository}",
            ["clone_url"] = $"{ApiUrl}{repository}.git",
            ["url"] = $"{ApiUrl}repos/{repository}",
        };
    }

    private static string Repo(Match match) => $"{match.Groups[1].Value}/{match.Groups[2].Value}";

    private static JsonObject Owner() => new() { ["login"] = "heaven-bot", ["id"] = 1, ["type"] = "User", ["site_admin"] = false };

    private static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static CannedResponse Json(int status, JsonNode body) => new(status, body.ToJsonString(), new Dictionary<string, string>());

    private static CannedResponse Error(int status, string message) =>
        Json(status, new JsonObject { ["message"] = message, ["documentation_url"] = "https://docs.github.com/rest" });

    private static CannedResponse Validation(string resource, string field, string code, string? message = null)
    {
        var error = new JsonObject { ["resource"] = resource, ["field"] = field, ["code"] = code };
        if (message is not null)
        {
            error["message"] = message;
        }

        return Json(422, new JsonObject
        {
            ["message"] = "Validation Failed",
            ["errors"] = new JsonArray(error),
            ["documentation_url"] = "https://docs.github.com/rest",
        });
    }

    private sealed record CannedResponse(int Status, string Body, IReadOnlyDictionary<string, string> Headers, string ContentType = "application/json; charset=utf-8", byte[]? Bytes = null);

    private sealed record Fault(string Route, CannedResponse Response)
    {
        public int Remaining { get; set; }
    }
}
