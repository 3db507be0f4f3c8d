using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Model;
using Octokit;

namespace Heaven.GitHub;

/// <summary>
/// The repository reads and deployment creation, as plain REST calls read with System.Text.Json:
/// Octokit's models turn a nested deployment payload into strings, and these answers are small.
/// Failures are sorted by the same rules as every Octokit call.
/// </summary>
public sealed partial class OctokitGitHub
{
    private const int MaxCheckRunPages = 10;

    /// <summary>Bodies as GitHub's own clients write them: non-ASCII text (logs, names) as is, not as \u escapes.</summary>
    private static readonly JsonSerializerOptions RequestJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async Task<GitHubComparison> CompareAsync(string repository, string @base, string head, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(@base);
        ArgumentException.ThrowIfNullOrEmpty(head);
        var root = await GetJsonAsync($"Comparing {@base}...{head} in {repository}", Repo(repository, $"compare/{Segment(@base)}...{Segment(head)}"), cancellationToken);
        var commits = root["commits"] is JsonArray list
            ? list.OfType<JsonObject>().Select(ReadCommit).ToList()
            : [];
        return new GitHubComparison(
            Str(root["status"]) ?? "unknown",
            Int(root["ahead_by"]),
            Int(root["behind_by"]),
            root["total_commits"] is null ? commits.Count : Int(root["total_commits"]),
            Str(root["html_url"]),
            commits);
    }

    public async Task<IReadOnlyList<GitHubDeployment>> ListDeploymentsAsync(string repository, string? environment, string? sha, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var query = new List<string> { $"per_page={Math.Min(limit, 100).ToString(CultureInfo.InvariantCulture)}" };
        if (!string.IsNullOrEmpty(environment))
        {
            query.Add("environment=" + Uri.EscapeDataString(environment));
        }

        if (!string.IsNullOrEmpty(sha))
        {
            query.Add("sha=" + Uri.EscapeDataString(sha));
        }

        var root = await GetJsonAsync($"Listing the deployments of {repository}", Repo(repository, "deployments?" + string.Join('&', query)), cancellationToken);
        return root is JsonArray items ? items.OfType<JsonObject>().Select(ReadDeployment).Take(limit).ToList() : [];
    }

    public async Task<IReadOnlyList<GitHubDeploymentStatusSummary>> ListDeploymentStatusesAsync(string repository, long deploymentId, CancellationToken cancellationToken)
    {
        var root = await GetJsonAsync(
            $"Listing the statuses of deployment {deploymentId} of {repository}",
            Repo(repository, $"deployments/{deploymentId.ToString(CultureInfo.InvariantCulture)}/statuses?per_page=100"),
            cancellationToken);
        return root is JsonArray items
            ? items.OfType<JsonObject>()
                .Select(s => new GitHubDeploymentStatusSummary(Long(s["id"]), Str(s["state"]) ?? "unknown", Str(s["description"]), Time(s["created_at"]) ?? DateTimeOffset.MinValue))
                .ToList()
            : [];
    }

    public async Task<GitHubCombinedStatus> GetCombinedStatusAsync(string repository, string @ref, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(@ref);
        var root = await GetJsonAsync($"Reading the combined status of {@ref} in {repository}", Repo(repository, $"commits/{Segment(@ref)}/status?per_page=100"), cancellationToken);
        var statuses = root["statuses"] is JsonArray list
            ? list.OfType<JsonObject>()
                .Where(s => Str(s["context"]) is not null)
                .Select(s => new GitHubCommitStatus(Str(s["context"])!, Str(s["state"]) ?? "pending", Str(s["description"])))
                .ToList()
            : [];
        return new GitHubCombinedStatus(Str(root["state"]) ?? "pending", statuses);
    }

    public async Task<IReadOnlyList<GitHubCheckRun>> ListCheckRunsAsync(string repository, string @ref, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(@ref);
        var runs = new List<GitHubCheckRun>();
        for (var page = 1; page <= MaxCheckRunPages; page++)
        {
            var root = await GetJsonAsync(
                $"Listing the check runs of {@ref} in {repository}",
                Repo(repository, $"commits/{Segment(@ref)}/check-runs?filter=latest&per_page=100&page={page.ToString(CultureInfo.InvariantCulture)}"),
                cancellationToken);
            var pageRuns = root["check_runs"] is JsonArray list ? list.OfType<JsonObject>().ToList() : [];
            runs.AddRange(pageRuns.Where(r => Str(r["name"]) is not null).Select(r => new GitHubCheckRun(
                Long(r["id"]),
                Str(r["name"])!,
                Str(r["status"]) ?? "queued",
                Str(r["conclusion"]),
                Time(r["started_at"]))));
            if (pageRuns.Count < 100 || runs.Count >= Int(root["total_count"]))
            {
                break;
            }
        }

        return runs;
    }

    public async Task<GitHubRepository> GetRepositoryAsync(string repository, CancellationToken cancellationToken)
    {
        var root = await GetJsonAsync($"Reading repository {repository}", Repo(repository, ""), cancellationToken);
        return new GitHubRepository(Str(root["full_name"]) ?? repository, Str(root["default_branch"]) ?? "main", Str(root["html_url"]));
    }

    public async Task<GitHubDeployment> CreateDeploymentAsync(string repository, NewDeploymentRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = new JsonObject
        {
            ["ref"] = request.Ref,
            ["task"] = request.Task,
            ["auto_merge"] = request.AutoMerge,
            ["payload"] = JsonNode.Parse(request.PayloadJson) as JsonObject ?? throw new ArgumentException("The payload must be a JSON object.", nameof(request)),
            ["environment"] = request.Environment,
            ["description"] = request.Description,
        };
        if (request.RequiredContexts is { } contexts)
        {
            body["required_contexts"] = new JsonArray(contexts.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray());
        }

        var what = $"Creating a deployment of {request.Ref} to {request.Environment} in {repository}";
        var root = await SendJsonAsync(what, HttpMethod.Post, Repo(repository, "deployments"), body, cancellationToken);
        if (root is not JsonObject created || created["id"] is null)
        {
            // 202: GitHub merged the default branch into the ref instead of deploying (auto_merge).
            throw new GitHubRejectedException($"{what}: GitHub created no deployment ({Str(root["message"]) ?? "no reason given"}).", (int)HttpStatusCode.Accepted);
        }

        return ReadDeployment(created);
    }

    public Task<ConditionalJson> GetDeploymentsIfChangedAsync(string repository, int page, string? etag, CancellationToken cancellationToken) =>
        GetIfChangedAsync(
            $"Listing the deployments of {repository}",
            Repo(repository, $"deployments?per_page={IGitHubRepositoryApi.DeploymentsPerPage.ToString(CultureInfo.InvariantCulture)}&page={page.ToString(CultureInfo.InvariantCulture)}"),
            etag,
            cancellationToken);

    public Task<ConditionalJson> GetDeploymentStatusesIfChangedAsync(string repository, long deploymentId, string? etag, CancellationToken cancellationToken) =>
        GetIfChangedAsync(
            $"Listing the statuses of deployment {deploymentId} of {repository}",
            Repo(repository, $"deployments/{deploymentId.ToString(CultureInfo.InvariantCulture)}/statuses?per_page=100"),
            etag,
            cancellationToken);

    public Task<ConditionalJson> GetRepositoryIfChangedAsync(string repository, string? etag, CancellationToken cancellationToken) =>
        GetIfChangedAsync($"Reading repository {repository}", Repo(repository, ""), etag, cancellationToken);

    private Task<ConditionalJson> GetIfChangedAsync(string what, Uri url, string? etag, CancellationToken cancellationToken) =>
        CallAsync(what, async () =>
        {
            var response = await SendRawAsync(HttpMethod.Get, url, null, cancellationToken, etag);
            if (response.Status == (int)HttpStatusCode.NotModified)
            {
                return new ConditionalJson(true, etag, null);
            }

            if (response.Status is < 200 or >= 300)
            {
                throw response.ToApiException();
            }

            try
            {
                var body = JsonNode.Parse(response.Body) ?? throw new JsonException("empty body");
                return new ConditionalJson(false, response.Headers.GetValueOrDefault("ETag"), body);
            }
            catch (JsonException e)
            {
                throw new GitHubTransientException($"{what}: GitHub answered {response.Status} with a body that is not JSON ({e.Message}).", null, e);
            }
        }, cancellationToken);

    private Uri Repo(string repository, string rest)
    {
        var (owner, name) = SplitRepository(repository);
        return new Uri(client.Connection.BaseAddress, rest.Length == 0 ? $"repos/{owner}/{name}" : $"repos/{owner}/{name}/{rest}");
    }

    /// <summary>A ref or sha as one URL path segment (branch names keep their slashes).</summary>
    private static string Segment(string reference) => string.Join('/', reference.Split('/').Select(Uri.EscapeDataString));

    private Task<JsonNode> GetJsonAsync(string what, Uri url, CancellationToken cancellationToken) =>
        SendJsonAsync(what, HttpMethod.Get, url, null, cancellationToken);

    private Task<JsonNode> SendJsonAsync(string what, HttpMethod method, Uri url, JsonNode? body, CancellationToken cancellationToken) =>
        CallAsync(what, async () =>
        {
            var response = await SendRawAsync(method, url, body, cancellationToken);
            if (response.Status is < 200 or >= 300)
            {
                throw response.ToApiException();
            }

            try
            {
                return JsonNode.Parse(response.Body) ?? throw new JsonException("empty body");
            }
            catch (JsonException e)
            {
                throw new GitHubTransientException($"{what}: GitHub answered {response.Status} with a body that is not JSON ({e.Message}).", null, e);
            }
        }, cancellationToken);

    /// <summary>One request with the token in its Authorization header (and nowhere else).</summary>
    private async Task<RawResponse> SendRawAsync(HttpMethod method, Uri url, JsonNode? body, CancellationToken cancellationToken, string? ifNoneMatch = null)
    {
        using var request = new HttpRequestMessage(method, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.ParseAdd(Accepts);
        request.Headers.UserAgent.ParseAdd("Heaven");
        request.Headers.Add("X-GitHub-Api-Version", "2022-11-28");
        if (ifNoneMatch is not null)
        {
            // As GitHub sent it (a weak W/"…" tag included): GitHub compares it verbatim.
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        if (body is not null)
        {
            request.Content = JsonBody(body);
        }

        using var response = await rest.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var headers = response.Headers.Concat(response.Content.Headers)
            .GroupBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => string.Join(",", g.SelectMany(h => h.Value)), StringComparer.OrdinalIgnoreCase);
        ObserveRateLimit(headers);
        return new RawResponse((int)response.StatusCode, text, headers, response.Content.Headers.ContentType?.MediaType ?? "application/json", response.Headers.Location);
    }

    /// <summary>A request body as GitHub takes it: JSON, labelled <c>application/json</c>, straight to UTF-8 without a JSON string of it first.</summary>
    private static ByteArrayContent JsonBody(JsonNode body)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, RequestJson));
        content.Headers.ContentType = new MediaTypeHeaderValue(JsonContentType) { CharSet = "utf-8" };
        return content;
    }

    private static GitHubDeployment ReadDeployment(JsonObject d)
    {
        // GitHub returns the payload as it was given: an object, or a string holding one (old clients).
        var payload = DeploymentPayload.From(d["payload"]).ToJson();
        return new GitHubDeployment(
            Long(d["id"]),
            Str(d["sha"]) ?? "",
            Str(d["ref"]) ?? "",
            Str(d["task"]) ?? "deploy",
            Str(d["environment"]) ?? "production",
            payload,
            Str(d["creator"]?["login"]),
            Str(d["description"]),
            Time(d["created_at"]) ?? DateTimeOffset.MinValue);
    }

    private static GitHubCommitSummary ReadCommit(JsonObject c) => new(
        Str(c["sha"]) ?? "",
        Str(c["commit"]?["message"]) ?? "",
        Str(c["author"]?["login"]),
        Str(c["commit"]?["author"]?["name"]),
        Str(c["html_url"]));

    private static string? Str(JsonNode? node) => GitHubJson.Text(node);

    private static int Int(JsonNode? node) => node is JsonValue value && value.TryGetValue<int>(out var number) ? number : 0;

    private static long Long(JsonNode? node) => node is JsonValue value && value.TryGetValue<long>(out var number) ? number : 0;

    private static DateTimeOffset? Time(JsonNode? node) => GitHubJson.Time(node);

    private sealed record RawResponse(int Status, string Body, IReadOnlyDictionary<string, string> Headers, string ContentType, Uri? Location)
    {
        /// <summary>In the shape Octokit's failures have, so <see cref="Translate"/> sorts it like any other.</summary>
        public ApiException ToApiException() => new(new PlainResponse((HttpStatusCode)Status, Body, Headers, ContentType));
    }
}
