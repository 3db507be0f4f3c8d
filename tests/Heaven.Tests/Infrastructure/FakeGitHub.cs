using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Heaven.Tests.Infrastructure;

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
    string Body)
{
    /// <summary>Who posted it, when not Heaven's token (heaven-bot).</summary>
    public string? Creator { get; init; }
}

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
public sealed partial class FakeGitHub : FakeHttpServer
{
    private static readonly string[] ValidStates = ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"];

    private readonly List<PostedStatus> statuses = [];
    private readonly Dictionary<string, FakeGist> gists = new(StringComparer.Ordinal);
    private readonly List<JsonObject> deployments = [];
    private readonly Dictionary<string, (string Status, int AheadBy, int BehindBy, FakeCommit[] Commits)> comparisons = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeCheckRun[]> checkRuns = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string State, (string Context, string State)[] Statuses)> combinedStatuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> tarballs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> defaultBranches = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> cloneUrls = new(StringComparer.OrdinalIgnoreCase);
    private int? downStatus;
    private string? metaBody;
    private int? metaFailure;
    private long nextId = 1000;

    private FakeGitHub()
        : base(
            ("POST", "^/repos/([^/]+)/([^/]+)/deployments/([0-9]+)/statuses$", "statuses"),
            ("GET", "^/repos/([^/]+)/([^/]+)/deployments/([0-9]+)/statuses$", "statuses-list"),
            ("POST", "^/repos/([^/]+)/([^/]+)/deployments$", "deployments"),
            ("GET", "^/repos/([^/]+)/([^/]+)/deployments$", "deployments-list"),
            ("POST", "^/gists$", "gists"),
            ("PATCH", "^/gists/([^/]+)$", "gist-update"),
            ("GET", "^/gists/([^/]+)$", "gist"),
            ("DELETE", "^/gists/([^/]+)$", "gist-delete"),
            ("GET", "^/meta$", "meta"),
            ("GET", "^/repos/([^/]+)/([^/]+)/compare/(.+)$", "compare"),
            ("GET", "^/repos/([^/]+)/([^/]+)/commits/(.+)/status$", "commit-status"),
            ("GET", "^/repos/([^/]+)/([^/]+)/commits/(.+)/check-runs$", "check-runs"),
            ("GET", "^/repos/([^/]+)/([^/]+)/tarball/(.+)$", "tarball"),
            ("GET", "^/_codeload/([^/]+)/([^/]+)/tar.gz/(.+)$", "tarball-download"),
            ("GET", "^/repos/([^/]+)/([^/]+)$", "repository"),
            ("GET", "^/login/oauth/authorize$", "oauth-authorize"),
            ("POST", "^/login/oauth/access_token$", "oauth-token"),
            ("GET", "^/user$", "user"),
            ("GET", "^/user/orgs$", "user-orgs"),
            ("GET", "^/user/teams$", "user-teams"),
            ("GET", "^/repos/([^/]+)/([^/]+)/collaborators/([^/]+)/permission$", "collaborator-permission"))
    {
    }

    /// <summary>The server's root, e.g. <c>http://127.0.0.1:41234/</c>: the value for <c>GitHub:ApiUrl</c>.</summary>
    public string ApiUrl => Root + "/";

    /// <summary>Where the REST API answers, as Octokit addresses it.</summary>
    public Uri RestBase => new(Root + "/api/v3/");

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
        lock (Gate)
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
        lock (Gate)
        {
            metaBody = json;
            metaFailure = null;
        }

        return this;
    }

    /// <summary><c>GET /meta</c> fails with <paramref name="status"/> until it is served again.</summary>
    public FakeGitHub FailMeta(int status = 500)
    {
        lock (Gate)
        {
            metaFailure = status;
        }

        return this;
    }

    /// <summary>Every accepted status, in the order they arrived.</summary>
    public IReadOnlyList<PostedStatus> Statuses
    {
        get
        {
            lock (Gate)
            {
                return statuses.ToList();
            }
        }
    }

    public IReadOnlyDictionary<string, FakeGist> Gists
    {
        get
        {
            lock (Gate)
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
            lock (Gate)
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

    /// <summary>The accepted statuses of one deployment, in order.</summary>
    public IReadOnlyList<PostedStatus> StatusesFor(string repository, long deploymentId) =>
        Statuses.Where(s => string.Equals(s.Repository, repository, StringComparison.OrdinalIgnoreCase) && s.DeploymentId == deploymentId).ToList();

    /// <summary>Waits for an accepted status matching <paramref name="predicate"/>; on timeout, fails with every request the fake received.</summary>
    public async Task<PostedStatus> WaitForStatusAsync(Func<PostedStatus, bool> predicate, TimeSpan? timeout = null, string what = "a matching deployment status") =>
        (await Poll.ForAsync(() => Statuses.FirstOrDefault(predicate), found => found is not null, "FakeGitHub: " + what, timeout, _ => DescribeRequests()))!;

    public FakeGist Gist(string id)
    {
        lock (Gate)
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
        AddFault(route, FakeReply.Json(statusCode, body, headers), times);
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

    /// <summary>Answers every request with <paramref name="statusCode"/> (a proxy in front of a GitHub that is down) until <see cref="Recover"/>.</summary>
    public void GoDown(int statusCode = 502)
    {
        lock (Gate)
        {
            downStatus = statusCode;
        }
    }

    public void Recover()
    {
        lock (Gate)
        {
            downStatus = null;
        }
    }

    /// <summary>Listens again on the same port.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await ListenAsync(Port);
    }

    /// <summary>What <c>GET compare/base...head</c> answers; <paramref name="commits"/> are listed oldest first, as GitHub does.</summary>
    public void SetCompare(string repository, string @base, string head, string status, int aheadBy, int behindBy = 0, params FakeCommit[] commits)
    {
        lock (Gate)
        {
            comparisons[$"{repository}:{@base}...{head}".ToLowerInvariant()] = (status, aheadBy, behindBy, commits);
        }
    }

    /// <summary>What <c>GET commits/{ref}/check-runs</c> lists.</summary>
    public void SetCheckRuns(string repository, string @ref, params FakeCheckRun[] runs)
    {
        lock (Gate)
        {
            checkRuns[$"{repository}:{@ref}".ToLowerInvariant()] = runs;
        }
    }

    /// <summary>
    /// A deployment that exists on GitHub before the test (made by hand or by another system), with
    /// its statuses in order (the last is the current one). Returns its id.
    /// </summary>
    public long AddDeployment(string repository, string sha, string environment, JsonObject? payload = null, string @ref = "main", params string[] statesInOrder) =>
        AddDeployment(repository, sha, environment, payload, @ref, null, statesInOrder);

    /// <summary>As GitHub holds them: each one added is newer than the ones before (a second apart, from ten minutes ago), unless <paramref name="createdAt"/> says when.</summary>
    public long AddDeployment(string repository, string sha, string environment, JsonObject? payload, string @ref, DateTimeOffset? createdAt, params string[] statesInOrder)
    {
        lock (Gate)
        {
            var id = nextId++;
            var at = createdAt ?? DateTimeOffset.UtcNow.AddMinutes(-10).AddSeconds(deployments.Count);
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

    /// <summary>
    /// A status posted on GitHub by someone other than Heaven (another system, a person), with its
    /// creator; returns its id. Its webhook is the test's to send, or not.
    /// </summary>
    public long AddStatus(string repository, long deploymentId, string state, string? description = null, string creator = "other-system", string? environment = null)
    {
        lock (Gate)
        {
            var id = nextId++;
            statuses.Add(new PostedStatus(id, repository, deploymentId, state, description, null, null, environment, Clock.GetUtcNow(), "{}") { Creator = creator });
            return id;
        }
    }

    /// <summary>The JSON of a status as GitHub lists it (and as its deployment_status webhook carries it).</summary>
    public JsonObject StatusJsonOf(long statusId)
    {
        lock (Gate)
        {
            return StatusJson(statuses.Single(s => s.Id == statusId));
        }
    }

    /// <summary>The JSON of a deployment as GitHub lists it.</summary>
    public JsonObject DeploymentJsonOf(long deploymentId)
    {
        lock (Gate)
        {
            var copy = (JsonObject)deployments.Single(d => (long)d["id"]! == deploymentId).DeepClone();
            copy.Remove("request");
            return copy;
        }
    }

    /// <summary>What <c>GET /repos/{repository}</c> gives as <c>clone_url</c> (a local test repository's, say).</summary>
    public void SetCloneUrl(string repository, string cloneUrl)
    {
        lock (Gate)
        {
            cloneUrls[repository] = cloneUrl;
        }
    }

    public void SetCombinedStatus(string repository, string @ref, string state, params (string Context, string State)[] contexts)
    {
        lock (Gate)
        {
            combinedStatuses[$"{repository}:{@ref}".ToLowerInvariant()] = (state, contexts);
        }
    }

    public void SetTarball(string repository, string @ref, byte[] content)
    {
        lock (Gate)
        {
            tarballs[$"{repository}:{@ref}".ToLowerInvariant()] = content;
        }
    }

    public void SetDefaultBranch(string repository, string branch)
    {
        lock (Gate)
        {
            defaultBranches[repository] = branch;
        }
    }

    protected override string RoutePath(string rawPath) =>
        rawPath.StartsWith("/api/v3/", StringComparison.Ordinal) || rawPath == "/api/v3" ? rawPath["/api/v3".Length..] : rawPath;

    protected override FakeReply? Intercept(FakeRequest request) =>
        downStatus is { } down ? new FakeReply(down, "<html><body><h1>502 Bad Gateway</h1></body></html>", null, "text/html") : null;

    /// <summary>How far the fake's <c>Date</c> header is from the real time (a GitHub whose clock differs from Heaven's host).</summary>
    public TimeSpan DateOffset { get; set; }

    protected override void OnAnswering(HttpResponse response)
    {
        response.Headers["X-GitHub-Request-Id"] = Guid.NewGuid().ToString("N")[..16];
        response.Headers.Date = (DateTimeOffset.UtcNow + DateOffset).ToString("R", CultureInfo.InvariantCulture);
    }

    protected override Task<FakeReply> AnswerAsync(FakeRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(AnswerOAuth(request) ?? Conditional(request, Answer(request.Method, request.Route, request.Match, request.Body, request.Query)));

    /// <summary>
    /// Like GitHub for the lists reconciliation reads: a 200 carries an ETag (of its body), and a request
    /// whose If-None-Match names the current one gets 304 with no body (which GitHub does not count
    /// against the rate limit).
    /// </summary>
    private static FakeReply Conditional(FakeRequest request, FakeReply reply)
    {
        if (request.Method != "GET" || reply.Status != 200 || request.Route is not ("deployments-list" or "statuses-list" or "repository"))
        {
            return reply;
        }

        var etag = "W/\"" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(reply.Body)))[..32].ToLowerInvariant() + "\"";
        var headers = new Dictionary<string, string>(reply.Headers ?? new Dictionary<string, string>()) { ["ETag"] = etag };
        return request.Header("If-None-Match") == etag
            ? new FakeReply(304, "", headers)
            : reply with { Headers = headers };
    }

    private FakeReply Answer(string method, string route, Match? match, string body, IQueryCollection query)
    {
        JsonObject? json = null;
        if (method is "POST" or "PATCH" && route != UnknownRoute)
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

        lock (Gate)
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
                "gist-delete" => gists.Remove(match!.Groups[1].Value) ? new FakeReply(204) : Error(404, "Not Found"),
                "gist" => gists.TryGetValue(match!.Groups[1].Value, out var gist) ? Json(200, GistJson(gist)) : Error(404, "Not Found"),
                "meta" when metaFailure is { } failure => Error(failure, "Server Error"),
                "meta" when metaBody is not null => new FakeReply(200, metaBody, null, "application/json; charset=utf-8"),
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
                    ? new FakeReply(302, "", new Dictionary<string, string> { ["Location"] = $"{ApiUrl}_codeload/{Repo(match!)}/tar.gz/{match!.Groups[3].Value}?token={TarballToken}" })
                    : Error(404, "Not Found"),
                "tarball-download" => tarballs.TryGetValue($"{Repo(match!)}:{match!.Groups[3].Value}".ToLowerInvariant(), out var bytes)
                    ? new FakeReply(200, "", null, "application/x-gzip") { Bytes = bytes }
                    : Error(404, "Not Found"),
                "repository" => Json(200, RepositoryJson(Repo(match!))),
                _ => Error(404, "Not Found"),
            };
        }
    }

    private FakeReply CreateStatus(Match match, JsonObject json, string body)
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
            Clock.GetUtcNow(),
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
        ["creator"] = status.Creator is { } creator ? new JsonObject { ["login"] = creator, ["id"] = 2, ["type"] = "User" } : Owner(),
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

    private FakeReply CreateDeployment(Match match, JsonObject json)
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

    /// <summary>Newest first, filtered by <c>environment</c> and <c>sha</c>, at most <c>per_page</c> (GitHub's default 30) from <c>page</c> on (1 = the newest).</summary>
    private FakeReply ListDeployments(Match match, IQueryCollection query)
    {
        var environment = query["environment"].ToString();
        var sha = query["sha"].ToString();
        var perPage = int.TryParse(query["per_page"], CultureInfo.InvariantCulture, out var n) ? Math.Clamp(n, 1, 100) : 30;
        var page = int.TryParse(query["page"], CultureInfo.InvariantCulture, out var p) ? Math.Max(1, p) : 1;
        var listed = deployments
            .Where(d => (string?)d["repository_url"] == $"{ApiUrl}repos/{Repo(match)}")
            .Where(d => environment.Length == 0 || (string?)d["environment"] == environment)
            .Where(d => sha.Length == 0 || (string?)d["sha"] == sha)
            .Reverse()
            .OrderByDescending(d => DateTimeOffset.Parse((string)d["created_at"]!, CultureInfo.InvariantCulture))
            .Skip((page - 1) * perPage)
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

    private FakeReply CheckRuns(Match match)
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

    private FakeReply CreateGist(JsonObject json)
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

    private FakeReply UpdateGist(string id, JsonObject json)
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

    private FakeReply Compare(Match match)
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

    private FakeReply CombinedStatus(Match match)
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
            ["clone_url"] = cloneUrls.GetValueOrDefault(repository, $"{ApiUrl}{repository}.git"),
            ["url"] = $"{ApiUrl}repos/{repository}",
        };
    }

    private static string Repo(Match match) => $"{match.Groups[1].Value}/{match.Groups[2].Value}";

    private static JsonObject Owner() => new() { ["login"] = "heaven-bot", ["id"] = 1, ["type"] = "User", ["site_admin"] = false };

    private static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static FakeReply Json(int status, JsonNode body) => FakeReply.Json(status, body);

    private static FakeReply Error(int status, string message) =>
        Json(status, new JsonObject { ["message"] = message, ["documentation_url"] = "https://docs.github.com/rest" });

    private static FakeReply Validation(string resource, string field, string code, string? message = null)
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
}
