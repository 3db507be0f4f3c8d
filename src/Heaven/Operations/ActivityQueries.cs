using Heaven.AutoDeploy;
using Heaven.Intake;
using Heaven.Locks;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Operations;

/// <summary>A delivery in the delivery log (without its body).</summary>
public sealed record DeliverySummary(long Id, string DeliveryId, string Event, string? Action, string? Repository, string Result, string Message, DateTimeOffset ReceivedAt, long? DeploymentId, bool CanRedeliver, string? RedeliveryOf);

/// <summary>
/// A delivery with its body and the request headers kept with it, in the order they came (never the
/// signatures, credentials, cookies, secrets or tokens; X-GitHub-Event and X-GitHub-Delivery are the
/// delivery's own fields). Empty for deliveries recorded before headers were kept.
/// </summary>
public sealed record DeliveryDetail(DeliverySummary Delivery, string? Body, IReadOnlyDictionary<string, string> Headers);

/// <summary>An outbox item. <see cref="State"/>: <c>done</c>, <c>failed</c> (given up), <c>waiting</c> (for a retry) or <c>due</c>.</summary>
/// <param name="DeploymentId">Heaven's deployment the item is about, also when its payload names GitHub's deployment id only.</param>
/// <param name="GitHubDeploymentId">GitHub's deployment the item reports on, when it does.</param>
/// <param name="ReportedState">The state it reports: a deployment status, a commit status or a check suite's conclusion.</param>
/// <param name="ReportedDescription">The status's description, or a commit status's context.</param>
/// <param name="Commit">The commit a commit status or check suite is about.</param>
public sealed record OutboxItemSummary(
    long Id,
    string Kind,
    string? Repository,
    long? DeploymentId,
    string State,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? NextAttemptAt,
    string? LastError,
    [property: System.Text.Json.Serialization.JsonPropertyName("githubDeploymentId")] long? GitHubDeploymentId = null,
    string? ReportedState = null,
    string? ReportedDescription = null,
    string? Commit = null);

/// <summary>An auto-deploy decision. <see cref="Outcome"/>: <c>deployed</c>, <c>deploying</c>, <c>failed</c> or <c>skipped</c>.</summary>
public sealed record AutoDeployDecisionSummary(long Id, string Repository, string Sha, string ShortSha, string Environment, string Outcome, string Reason, string Trigger, [property: System.Text.Json.Serialization.JsonPropertyName("githubDeploymentId")] long? GitHubDeploymentId, DateTimeOffset DecidedAt);

/// <summary>The side lists of the pages and the CLI: deliveries, the outbox, auto-deploy decisions, locks. Newest first.</summary>
public sealed class ActivityQueries(IHeavenDatabase database, TimeProvider time)
{
    public const int MaxLimit = 500;

    /// <summary>The delivery log, newest first; older than <paramref name="beforeId"/> when paging.</summary>
    public async Task<IReadOnlyList<DeliverySummary>> DeliveriesAsync(int limit, CancellationToken cancellationToken, long? beforeId = null, string? repository = null)
    {
        CheckLimit(limit);
        await using var db = await database.OpenAsync(cancellationToken);
        var query = db.Deliveries.AsNoTracking();
        if (beforeId is { } before)
        {
            query = query.Where(d => d.Id < before);
        }

        if (repository is not null)
        {
            query = query.Where(d => d.Repository == repository);
        }

        var rows = await query.OrderByDescending(d => d.Id).Take(limit)
            .Select(d => new { d.Id, d.DeliveryId, d.Event, d.Action, d.Repository, d.Result, d.Message, d.ReceivedAt, d.DeploymentId, HasBody = d.Body != null, d.RedeliveryOf })
            .ToListAsync(cancellationToken);
        return rows.Select(d => new DeliverySummary(d.Id, d.DeliveryId, d.Event, d.Action, d.Repository, d.Result.ToString().ToLowerInvariant(), d.Message, DeploymentQueries.Utc(d.ReceivedAt), d.DeploymentId, d.HasBody, d.RedeliveryOf)).ToList();
    }

    /// <summary>One delivery of the log with the body as received (null when bodies were not kept yet); null when there is none.</summary>
    public async Task<DeliveryDetail?> DeliveryAsync(string deliveryId, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var d = await db.Deliveries.AsNoTracking().OrderBy(x => x.Id).FirstOrDefaultAsync(x => x.DeliveryId == deliveryId, cancellationToken);
        if (d is null)
        {
            return null;
        }

        var summary = new DeliverySummary(d.Id, d.DeliveryId, d.Event, d.Action, d.Repository, d.Result.ToString().ToLowerInvariant(), d.Message, DeploymentQueries.Utc(d.ReceivedAt), d.DeploymentId, d.Body is not null, d.RedeliveryOf);
        var headers = StoredHeaders.Parse(d.Headers).ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);
        return new DeliveryDetail(summary, d.Body is null ? null : System.Text.Encoding.UTF8.GetString(d.Body), headers);
    }

    /// <summary>
    /// The newest outbox items (statuses for GitHub, chat messages, commit events for auto-deploy).
    /// <paramref name="problemsOnly"/>: failed for good, or waiting for a retry after a failed attempt.
    /// </summary>
    public async Task<IReadOnlyList<OutboxItemSummary>> OutboxAsync(int limit, bool problemsOnly, CancellationToken cancellationToken, long? beforeId = null)
    {
        CheckLimit(limit);
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await database.OpenAsync(cancellationToken);
        var query = db.WorkItems.AsNoTracking();
        if (problemsOnly)
        {
            query = query.Where(w => w.State == WorkItemState.Failed || (w.State == WorkItemState.Pending && w.LastError != null));
        }

        if (beforeId is { } before)
        {
            query = query.Where(w => w.Id < before);
        }

        var rows = await query.OrderByDescending(w => w.Id).Take(limit)
            .Select(w => new { w.Id, w.Kind, w.Repository, w.DeploymentId, w.State, w.Attempts, w.CreatedAt, w.NotBefore, w.LastError, w.PayloadJson })
            .ToListAsync(cancellationToken);
        var subjects = rows.ToDictionary(r => r.Id, r => OutboxSubject.Of(r.Kind, r.PayloadJson));
        // Events from GitHub name GitHub's deployment id only: Heaven's id comes from the deployments table.
        var gitHubIds = subjects.Values.Select(s => s.GitHubDeploymentId).OfType<long>().Distinct().ToList();
        var heavenIds = gitHubIds.Count == 0
            ? []
            : (await db.Deployments.AsNoTracking()
                    .Where(d => gitHubIds.Contains(d.GitHubDeploymentId))
                    .Select(d => new { d.Repository, d.GitHubDeploymentId, d.Id })
                    .ToListAsync(cancellationToken))
                .ToDictionary(d => (d.Repository.ToLowerInvariant(), d.GitHubDeploymentId), d => d.Id);
        return rows.Select(w =>
        {
            var subject = subjects[w.Id];
            var deploymentId = w.DeploymentId
                ?? (subject.GitHubDeploymentId is { } gh && w.Repository is { } repository && heavenIds.TryGetValue((repository.ToLowerInvariant(), gh), out var found) ? found : null);
            return new OutboxItemSummary(
                w.Id,
                w.Kind,
                w.Repository,
                deploymentId,
                w.State switch
                {
                    WorkItemState.Done => "done",
                    WorkItemState.Failed => "failed",
                    _ => w.NotBefore > now ? "waiting" : "due",
                },
                w.Attempts,
                DeploymentQueries.Utc(w.CreatedAt),
                w.State == WorkItemState.Pending && w.NotBefore > now ? DeploymentQueries.Utc(w.NotBefore) : null,
                w.LastError,
                subject.GitHubDeploymentId,
                subject.State,
                subject.Description,
                subject.Commit);
        }).ToList();
    }

    /// <summary>The newest auto-deploy decisions, of one repository (any case) or of all.</summary>
    public async Task<IReadOnlyList<AutoDeployDecisionSummary>> AutoDeployDecisionsAsync(string? repository, int limit, CancellationToken cancellationToken, long? beforeId = null)
    {
        CheckLimit(limit);
        await using var db = await database.OpenAsync(cancellationToken);
        var query = db.AutoDeployDecisions.AsNoTracking();
        if (repository is not null)
        {
            var lowered = repository.ToLowerInvariant();
            query = query.Where(d => d.Repository.ToLower() == lowered);
        }

        if (beforeId is { } before)
        {
            query = query.Where(d => d.Id < before);
        }

        var rows = await query.OrderByDescending(d => d.Id).Take(limit).ToListAsync(cancellationToken);
        return rows.Select(d => new AutoDeployDecisionSummary(d.Id, d.Repository, d.Sha, d.ShortSha, d.Environment, AutoDeployDecision.OutcomeWord(d.Outcome), d.Reason, d.Trigger, d.GitHubDeploymentId, DeploymentQueries.Utc(d.DecidedAt))).ToList();
    }

    /// <summary>Every lock, expired ones included (<see cref="LockView.Active"/> says), by repository and environment.</summary>
    public async Task<IReadOnlyList<LockView>> LocksAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await database.OpenAsync(cancellationToken);
        var rows = await db.EnvironmentLocks.AsNoTracking().OrderBy(l => l.LockKey).ToListAsync(cancellationToken);
        return rows.Select(l => DeploymentQueries.ToView(l, now)).ToList();
    }

    private static void CheckLimit(int limit)
    {
        if (limit is < 1 or > MaxLimit)
        {
            throw new ArgumentException($"The limit must be between 1 and {MaxLimit}.", nameof(limit));
        }
    }
}
