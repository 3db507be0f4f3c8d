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

    /// <summary>
    /// Where the tarball of <paramref name="reference"/> can be downloaded: GitHub's redirect target,
    /// not followed. For a private repository the link carries a short-lived token in its query, so it
    /// is a credential: hand it on, never log it.
    /// </summary>
    Task<Uri> GetTarballLinkAsync(string repository, string reference, CancellationToken cancellationToken);
}
