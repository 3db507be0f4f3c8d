namespace Heaven.GitHub;

/// <summary>The states Heaven posts, as GitHub names them.</summary>
public enum GitHubDeploymentState
{
    Pending,
    Queued,
    InProgress,
    Success,
    Failure,
    Error,
    Inactive,
}

/// <summary>A deployment status to post. The description is clamped to GitHub's 140 characters by the adapter.</summary>
public sealed record DeploymentStatusRequest(
    GitHubDeploymentState State,
    string Description,
    string? LogUrl,
    string? EnvironmentUrl,
    string? Environment);

public sealed record GistReference(string Id, string HtmlUrl);

/// <summary>GitHub answered in a way worth retrying later (5xx, timeout, rate limit).</summary>
public sealed class GitHubTransientException(string message, TimeSpan? retryAfter, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>From <c>Retry-After</c> or <c>X-RateLimit-Reset</c>, when GitHub said.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>GitHub refused for good (bad credentials, not found, validation failed). Safe to show: no token in it.</summary>
public sealed class GitHubRejectedException(string message, int statusCode, Exception? inner = null) : Exception(message, inner)
{
    public int StatusCode { get; } = statusCode;
}

/// <summary>The small part of GitHub Heaven talks to. The Octokit adapter implements it; tests use a real fake server.</summary>
public interface IGitHub
{
    Task CreateDeploymentStatusAsync(string repository, long deploymentId, DeploymentStatusRequest status, CancellationToken cancellationToken);

    /// <summary>Creates a secret gist.</summary>
    Task<GistReference> CreateGistAsync(string description, IReadOnlyDictionary<string, string> files, CancellationToken cancellationToken);

    /// <summary>Replaces the given files of a gist (a null content deletes that file).</summary>
    Task UpdateGistAsync(string gistId, IReadOnlyDictionary<string, string?> files, CancellationToken cancellationToken);

    /// <summary>Deletes a gist; one that is already gone counts as deleted.</summary>
    Task DeleteGistAsync(string gistId, CancellationToken cancellationToken);

    /// <summary>
    /// Where the tarball of <paramref name="reference"/> can be downloaded: GitHub's redirect target,
    /// not followed. For a private repository the link carries a short-lived token in its query, so it
    /// is a credential: hand it on, never log it.
    /// </summary>
    Task<Uri> GetTarballLinkAsync(string repository, string reference, CancellationToken cancellationToken);
}

/// <summary>A commit as the compare API lists it. <see cref="Message"/> is the whole message.</summary>
public sealed record GitHubCommitSummary(string Sha, string Message, string? AuthorLogin, string? AuthorName, string? HtmlUrl);

/// <summary>
/// The compare API's answer for <c>base...head</c>: <see cref="Status"/> is <c>ahead</c>, <c>behind</c>,
/// <c>identical</c> or <c>diverged</c> (of head relative to base). <see cref="Commits"/> holds at most
/// the first page GitHub returns (oldest first); <see cref="TotalCommits"/> counts them all.
/// </summary>
public sealed record GitHubComparison(string Status, int AheadBy, int BehindBy, int TotalCommits, string? HtmlUrl, IReadOnlyList<GitHubCommitSummary> Commits);

/// <summary>A deployment as the API lists it. <see cref="PayloadJson"/> is always a JSON object's text.</summary>
public sealed record GitHubDeployment(
    long Id,
    string Sha,
    string Ref,
    string Task,
    string Environment,
    string PayloadJson,
    string? Creator,
    string? Description,
    DateTimeOffset CreatedAt);

/// <summary>One status of a deployment, as the API lists it (state as GitHub spells it: <c>success</c>, …).</summary>
public sealed record GitHubDeploymentStatusSummary(long Id, string State, string? Description, DateTimeOffset CreatedAt);

/// <summary>One commit status context, the latest for its name (as the combined status lists it).</summary>
public sealed record GitHubCommitStatus(string Context, string State, string? Description);

/// <summary>The combined status of a ref: <c>success</c>, <c>pending</c> or <c>failure</c>, and its contexts.</summary>
public sealed record GitHubCombinedStatus(string State, IReadOnlyList<GitHubCommitStatus> Statuses);

/// <summary>A check run: status <c>queued</c>/<c>in_progress</c>/<c>completed</c>, conclusion once completed.</summary>
public sealed record GitHubCheckRun(long Id, string Name, string Status, string? Conclusion, DateTimeOffset? StartedAt);

/// <summary>A repository as the API describes it: the fields Heaven reads.</summary>
public sealed record GitHubRepository(string FullName, string DefaultBranch, string? HtmlUrl);

/// <summary>What <see cref="IGitHubRepositoryApi.CreateDeploymentAsync"/> asks GitHub for. <see cref="PayloadJson"/> is a JSON object's text.</summary>
public sealed record NewDeploymentRequest(
    string Ref,
    string Task,
    string Environment,
    string PayloadJson,
    string Description,
    bool AutoMerge,
    IReadOnlyList<string>? RequiredContexts);

/// <summary>
/// The repository reads auto-deploy and notifications need, and creating a deployment. Apart from
/// <see cref="IGitHub"/> so the deploy engine's test doubles need not grow with it.
/// </summary>
public interface IGitHubRepositoryApi
{
    /// <summary>Deployments a page of <see cref="GetDeploymentsIfChangedAsync"/> holds: GitHub's most.</summary>
    const int DeploymentsPerPage = 100;

    /// <summary><c>GET /repos/{repo}/compare/{base}...{head}</c>.</summary>
    Task<GitHubComparison> CompareAsync(string repository, string @base, string head, CancellationToken cancellationToken);

    /// <summary>Deployments, newest first, optionally of one environment and/or sha; at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<GitHubDeployment>> ListDeploymentsAsync(string repository, string? environment, string? sha, int limit, CancellationToken cancellationToken);

    /// <summary>A deployment's statuses, newest first (the first page).</summary>
    Task<IReadOnlyList<GitHubDeploymentStatusSummary>> ListDeploymentStatusesAsync(string repository, long deploymentId, CancellationToken cancellationToken);

    /// <summary><c>GET /repos/{repo}/commits/{ref}/status</c>.</summary>
    Task<GitHubCombinedStatus> GetCombinedStatusAsync(string repository, string @ref, CancellationToken cancellationToken);

    /// <summary><c>GET /repos/{repo}/commits/{ref}/check-runs</c> (every page).</summary>
    Task<IReadOnlyList<GitHubCheckRun>> ListCheckRunsAsync(string repository, string @ref, CancellationToken cancellationToken);

    /// <summary><c>GET /repos/{repo}</c>: its name as GitHub spells it and its default branch.</summary>
    Task<GitHubRepository> GetRepositoryAsync(string repository, CancellationToken cancellationToken);

    /// <summary><c>POST /repos/{repo}/deployments</c>. A 202 (GitHub merged the default branch first) counts as rejected.</summary>
    Task<GitHubDeployment> CreateDeploymentAsync(string repository, NewDeploymentRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// <c>GET /repos/{repo}/deployments</c>, page <paramref name="page"/> (1 = the newest 100; newest
    /// first) as GitHub's JSON, asked with <c>If-None-Match</c> when an <paramref name="etag"/> is known:
    /// a 304 costs no rate limit.
    /// </summary>
    Task<ConditionalJson> GetDeploymentsIfChangedAsync(string repository, int page, string? etag, CancellationToken cancellationToken);

    /// <summary><c>GET /repos/{repo}/deployments/{id}/statuses</c> (newest first) as GitHub's JSON, conditionally.</summary>
    Task<ConditionalJson> GetDeploymentStatusesIfChangedAsync(string repository, long deploymentId, string? etag, CancellationToken cancellationToken);

    /// <summary><c>GET /repos/{repo}</c> as GitHub's JSON, conditionally.</summary>
    Task<ConditionalJson> GetRepositoryIfChangedAsync(string repository, string? etag, CancellationToken cancellationToken);
}

/// <summary>
/// The answer to a conditional GET: <see cref="NotModified"/> (304: what the caller kept under that ETag
/// still holds, and <see cref="Body"/> is null), or the JSON GitHub sent with its new <see cref="ETag"/>.
/// </summary>
public sealed record ConditionalJson(bool NotModified, string? ETag, System.Text.Json.Nodes.JsonNode? Body);
