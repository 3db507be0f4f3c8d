using Heaven.GitHub;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>
/// What GitHub knows about an environment's earlier deployments, added to a message when it is sent:
/// for "started", the previous deployment (a compare link); for "deployed", with
/// Notifications:DisplayCommits, the commits shipped since the previous successful deployment.
/// </summary>
/// <remarks>
/// Best effort by design: without a GitHub token, or when GitHub fails or is slow, the message goes out
/// as it is. A chat message is never held back, or retried, for the sake of a link. One event is
/// sent to several services, so what was found is kept for a few minutes and every service says the
/// same thing.
/// </remarks>
internal sealed partial class DeploymentHistory(
    IOptions<NotificationOptions> notificationOptions,
    IOptions<GitHubOptions> gitHubOptions,
    TimeProvider time,
    ILogger<DeploymentHistory> logger,
    IGitHubRepositoryApi? gitHub = null)
{
    /// <summary>How many of the environment's latest deployments are looked at.</summary>
    public const int Lookback = 10;

    private const int CacheSize = 256;
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(10);

    private readonly NotificationOptions options = notificationOptions.Value;
    private readonly Lock gate = new();
    private readonly Dictionary<string, (DateTimeOffset At, PreviousDeployment? Previous, ShippedCommits? Shipped)> cache = new(StringComparer.Ordinal);
    private readonly Queue<string> cacheOrder = new();

    /// <summary>Says at start-up when a setting asks for something the missing GitHub token rules out.</summary>
    public void ReportSettings()
    {
        if (options.ShowCommits && (gitHub is null || string.IsNullOrEmpty(gitHubOptions.Value.Token)))
        {
            Log.CommitsNeedToken(logger);
        }
    }

    /// <summary>The message with what could be found; only the caller's cancellation (shutting down) throws.</summary>
    public async Task<DeploymentNotification> AddHistoryAsync(DeploymentNotification message, CancellationToken cancellationToken)
    {
        if (!Wanted(message) || gitHub is null || string.IsNullOrEmpty(gitHubOptions.Value.Token))
        {
            return message;
        }

        var key = $"{message.Repository}\n{message.Environment}\n{message.DeploymentId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? message.Sha}\n{message.Outcome}";
        if (Cached(key) is { } known)
        {
            return message with { Previous = known.Previous, Shipped = known.Shipped };
        }

        PreviousDeployment? previous = null;
        ShippedCommits? shipped = null;
        // Reading the history may take no longer than one chat request: the lease on the work item
        // covers both (NotificationOptions checks it is longer than twice the request timeout).
        using var timeout = new CancellationTokenSource(options.RequestTimeout, time);
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            if (message.Outcome == DeploymentOutcome.Started)
            {
                previous = await FindPreviousAsync(gitHub, message, budget.Token);
            }
            else
            {
                shipped = await FindShippedAsync(gitHub, message, budget.Token);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            var error = e is OperationCanceledException ? $"GitHub did not answer within {options.RequestTimeout}" : e.Message;
            Log.LookupFailed(logger, message.Repository, message.Environment, message.Outcome == DeploymentOutcome.Started ? "the compare link" : "the commit list", error);
        }

        Remember(key, previous, shipped);
        return message with { Previous = previous, Shipped = shipped };
    }

    /// <summary>Lock and unlock "deployments" change no code: nothing to compare, before or after them.</summary>
    private static bool IsLockTask(string? task) =>
        task is not null && (task.EndsWith(":lock", StringComparison.Ordinal) || task.EndsWith(":unlock", StringComparison.Ordinal));

    private static string Short(string sha) => Heaven.Model.CommitSha.Abbreviated(sha);

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length <= 120 ? line : line[..119] + "…";
    }

    private bool Wanted(DeploymentNotification message) =>
        message.Outcome switch
        {
            // The link is the repository's own page: without its address there is nothing to link.
            DeploymentOutcome.Started => message.RepositoryUrl is not null,
            DeploymentOutcome.Succeeded => options.ShowCommits,
            _ => false,
        }
        && message.Sha is { Length: >= 7 }
        && message.Repository.Count(c => c == '/') == 1
        && !IsLockTask(message.DeploymentTask);

    /// <summary>An earlier deployment of the environment: older than this one (ids grow), not a lock, another sha.</summary>
    private static IEnumerable<GitHubDeployment> Earlier(IEnumerable<GitHubDeployment> deployments, DeploymentNotification message) =>
        deployments.Where(d => (message.DeploymentId is not { } id || d.Id < id)
            && !IsLockTask(d.Task)
            && !string.Equals(d.Sha, message.Sha, StringComparison.OrdinalIgnoreCase));

    /// <summary>The newest earlier deployment, whatever became of it: the changes this one brings on top of it.</summary>
    private async Task<PreviousDeployment?> FindPreviousAsync(IGitHubRepositoryApi api, DeploymentNotification message, CancellationToken cancellationToken)
    {
        var deployments = await api.ListDeploymentsAsync(message.Repository, message.Environment, null, Lookback, cancellationToken);
        if (Earlier(deployments, message).FirstOrDefault() is not { } previous)
        {
            Log.NothingEarlier(logger, message.Repository, message.Environment);
            return null;
        }

        return new PreviousDeployment(previous.Sha, $"{message.RepositoryUrl}/compare/{Short(previous.Sha)}...{Short(message.Sha!)}");
    }

    /// <summary>
    /// The commits between the newest earlier deployment that succeeded and this one, newest first.
    /// "Succeeded" is any success status: GitHub marks it inactive once a newer one succeeds.
    /// </summary>
    private async Task<ShippedCommits?> FindShippedAsync(IGitHubRepositoryApi api, DeploymentNotification message, CancellationToken cancellationToken)
    {
        var deployments = await api.ListDeploymentsAsync(message.Repository, message.Environment, null, Lookback, cancellationToken);
        GitHubDeployment? live = null;
        foreach (var candidate in Earlier(deployments, message))
        {
            var statuses = await api.ListDeploymentStatusesAsync(message.Repository, candidate.Id, cancellationToken);
            if (statuses.Any(s => s.State == "success"))
            {
                live = candidate;
                break;
            }
        }

        if (live is null)
        {
            Log.NothingEarlier(logger, message.Repository, message.Environment);
            return null;
        }

        var comparison = await api.CompareAsync(message.Repository, live.Sha, message.Sha!, cancellationToken);
        if (comparison.TotalCommits <= 0 || comparison.Commits.Count == 0)
        {
            // A rollback or a redeploy: nothing new went out.
            return null;
        }

        var repositoryUrl = message.RepositoryUrl;
        var commits = comparison.Commits
            .Reverse()
            .Take(options.DisplayCommitsLimit)
            .Select(c => new ShippedCommit(
                c.Sha,
                FirstLine(c.Message),
                c.AuthorLogin ?? c.AuthorName,
                repositoryUrl is null ? c.HtmlUrl : $"{repositoryUrl}/commit/{c.Sha}"))
            .ToList();
        var compareUrl = repositoryUrl is null ? comparison.HtmlUrl : $"{repositoryUrl}/compare/{Short(live.Sha)}...{Short(message.Sha!)}";
        return new ShippedCommits(Math.Max(comparison.TotalCommits, commits.Count), commits, compareUrl);
    }

    private (PreviousDeployment? Previous, ShippedCommits? Shipped)? Cached(string key)
    {
        lock (gate)
        {
            return cache.TryGetValue(key, out var entry) && time.GetUtcNow() - entry.At < CacheFor ? (entry.Previous, entry.Shipped) : null;
        }
    }

    private void Remember(string key, PreviousDeployment? previous, ShippedCommits? shipped)
    {
        lock (gate)
        {
            if (!cache.ContainsKey(key))
            {
                cacheOrder.Enqueue(key);
            }

            cache[key] = (time.GetUtcNow(), previous, shipped);
            while (cacheOrder.Count > CacheSize)
            {
                cache.Remove(cacheOrder.Dequeue());
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Notifications:DisplayCommits is on, but GitHub:Token is not set: messages go out without the commit list")]
        public static partial void CommitsNeedToken(ILogger logger);

        [LoggerMessage(Level = LogLevel.Debug, Message = "{Repository} has no earlier deployment in {Environment} to compare with")]
        public static partial void NothingEarlier(ILogger logger, string repository, string environment);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the deployment history of {Repository} in {Environment} from GitHub; the message goes out without {What}: {Error}")]
        public static partial void LookupFailed(ILogger logger, string repository, string environment, string what, string error);
    }
}
