using Heaven.Model;

namespace Heaven.Operations;

/// <summary>Which deployments <see cref="DeploymentQueries.ListAsync"/> lists: newest first, at most <see cref="Limit"/>, older than <see cref="BeforeId"/> when paging.</summary>
public sealed record DeploymentFilter
{
    public const int DefaultLimit = 50;

    public const int MaxLimit = 500;

    public string? Repository { get; init; }

    public string? Environment { get; init; }

    /// <summary>A state as the API prints it (<c>queued</c>, <c>success</c>, ...; see <see cref="DeploymentStates"/>).</summary>
    public string? State { get; init; }

    /// <summary>1 to <see cref="MaxLimit"/>.</summary>
    public int Limit { get; init; } = DefaultLimit;

    /// <summary>Only deployments with a smaller Heaven id: the next page starts below the last id seen.</summary>
    public long? BeforeId { get; init; }
}

/// <summary>A deployment as the pages, the API and the CLI show it. Times are UTC.</summary>
public sealed record DeploymentSummary(
    long Id,
    [property: System.Text.Json.Serialization.JsonPropertyName("githubDeploymentId")] long GitHubDeploymentId,
    string Repository,
    string Environment,
    string Ref,
    string Sha,
    string Task,
    string? Provider,
    string State,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Description,
    string? Creator,
    string? GistUrl,
    string? CancelRequestedBy)
{
    /// <summary>The first 7 characters of the sha, as GitHub shows a commit.</summary>
    public string ShortSha => CommitSha.Abbreviated(Sha);
}

/// <summary>One status Heaven posted (or is about to post) for a deployment.</summary>
/// <param name="State">As GitHub spells it: <c>in_progress</c>, <c>success</c>, ...</param>
/// <param name="QueuedAt">When Heaven decided on it (it reaches GitHub after).</param>
/// <param name="Delivered">GitHub took it.</param>
/// <param name="Failed">Heaven gave up on it (GitHub kept refusing); <see cref="LastError"/> says why.</param>
public sealed record StatusTimelineEntry(string State, string Description, DateTimeOffset QueuedAt, bool Delivered, bool Failed, int Attempts, DateTimeOffset? DeliveredAt, string? LastError);

/// <summary>A deployment and its statuses, oldest first.</summary>
public sealed record DeploymentDetail(DeploymentSummary Deployment, IReadOnlyList<StatusTimelineEntry> Statuses);

/// <summary>The states as the API prints them: GitHub's words where GitHub has one.</summary>
public static class DeploymentStates
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Success = "success";
    public const string Failure = "failure";
    public const string Error = "error";
    public const string Cancelled = "cancelled";
    public const string Rejected = "rejected";
    public const string Ignored = "ignored";

    public static IReadOnlyList<string> All { get; } = [Queued, Running, Success, Failure, Error, Cancelled, Rejected, Ignored];

    public static string Name(DeploymentState state) => state switch
    {
        DeploymentState.Queued => Queued,
        DeploymentState.Running => Running,
        DeploymentState.Succeeded => Success,
        DeploymentState.Failed => Failure,
        DeploymentState.Errored => Error,
        DeploymentState.Cancelled => Cancelled,
        DeploymentState.Rejected => Rejected,
        _ => Ignored,
    };

    /// <summary>The state a printed name stands for (any case); null for a name that is none.</summary>
    public static DeploymentState? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        Queued => DeploymentState.Queued,
        Running => DeploymentState.Running,
        Success => DeploymentState.Succeeded,
        Failure => DeploymentState.Failed,
        Error => DeploymentState.Errored,
        Cancelled => DeploymentState.Cancelled,
        Rejected => DeploymentState.Rejected,
        Ignored => DeploymentState.Ignored,
        _ => null,
    };
}

/// <summary>An environment lock as shown: who, why, since and until when (null: until unlocked).</summary>
public sealed record LockView(string Repository, string Environment, string LockedBy, string? Reason, DateTimeOffset LockedAt, DateTimeOffset? ExpiresAt, bool Active);

/// <summary>One environment of one repository on the dashboard.</summary>
/// <param name="Current">What is deployed: the latest deployment that succeeded.</param>
/// <param name="Latest">The latest deployment, whatever its state.</param>
/// <param name="Running">The deployment running now, if one is.</param>
/// <param name="Queued">Deployments waiting to run.</param>
public sealed record EnvironmentStatus(
    string Environment,
    DeploymentSummary? Current,
    DeploymentSummary? Latest,
    DeploymentSummary? Running,
    int Queued,
    LockView? Lock);

public sealed record RepositoryStatus(string Repository, IReadOnlyList<EnvironmentStatus> Environments);

public sealed record Dashboard(IReadOnlyList<RepositoryStatus> Repositories);

/// <summary>One environment's page: what is deployed, the lock, and its history newest first.</summary>
/// <param name="NextBeforeId">Pass as <c>beforeId</c> for the next (older) page; null on the last page.</param>
public sealed record EnvironmentHistory(
    string Repository,
    string Environment,
    DeploymentSummary? Current,
    LockView? Lock,
    IReadOnlyList<DeploymentSummary> Deployments,
    long? NextBeforeId);

/// <summary>A commit not yet deployed, with what CI says about it.</summary>
/// <param name="CombinedState">The combined commit status: <c>success</c>, <c>pending</c> or <c>failure</c>.</param>
public sealed record UndeployedCommit(
    string Sha,
    string Message,
    string? Author,
    string? HtmlUrl,
    string CombinedState,
    IReadOnlyList<Heaven.GitHub.GitHubCommitStatus> Statuses,
    IReadOnlyList<Heaven.GitHub.GitHubCheckRun> CheckRuns);

/// <summary>
/// The commits on the default branch that an environment does not have yet, oldest first (at most the
/// first page GitHub compares; <see cref="TotalCommits"/> counts them all).
/// </summary>
/// <param name="DeployedSha">Null: nothing was deployed there successfully yet, so nothing is compared.</param>
public sealed record UndeployedCommits(
    string Repository,
    string Environment,
    string DefaultBranch,
    string? DeployedSha,
    string? HeadSha,
    int TotalCommits,
    string? CompareUrl,
    IReadOnlyList<UndeployedCommit> Commits);
