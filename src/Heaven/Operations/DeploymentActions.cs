using System.Text.Json.Nodes;
using Heaven.Deployments;
using Heaven.GitHub;
using Heaven.Intake;
using Heaven.Locks;
using Heaven.Model;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Operations;

/// <summary>How an action ended, in words a person can read (no stack trace, no token).</summary>
public enum ActionStatus
{
    /// <summary>Done (or asked of GitHub, whose webhook then runs it).</summary>
    Done,

    /// <summary>No such deployment, delivery or lock.</summary>
    NotFound,

    /// <summary>The state of things does not allow it (nothing to roll back to, already finished, locked by someone else).</summary>
    Conflict,

    /// <summary>The request itself is wrong (not a 40-hex sha, no actor).</summary>
    Invalid,

    /// <summary>GitHub refused or could not be reached; <see cref="ActionResult.Message"/> says what it answered.</summary>
    GitHubRefused,
}

/// <param name="GitHubDeploymentId">The GitHub deployment an action created, when it created one.</param>
/// <param name="DeploymentId">The Heaven deployment concerned, when one is.</param>
public sealed record ActionResult(ActionStatus Status, string Message, long? GitHubDeploymentId = null, long? DeploymentId = null)
{
    public bool Succeeded => Status == ActionStatus.Done;
}

/// <summary>
/// What people do to deployments, from the pages, the API or the CLI. Whatever deploys goes through
/// GitHub (a new GitHub deployment), so GitHub, chat bots and Heaven agree on what happened; the
/// <c>deployment</c> webhook GitHub sends back runs it like any other.
/// </summary>
public sealed class DeploymentActions(
    IHeavenDatabase database,
    IGitHubRepositoryApi gitHub,
    DeploymentQueue queue,
    EnvironmentLocks locks,
    DeliveryReplay replay)
{
    /// <summary>Deploys the deployment's commit again: same sha (as the ref), environment, task and payload.</summary>
    public async Task<ActionResult> RedeployAsync(long id, string actor, CancellationToken cancellationToken)
    {
        if (Unnamed(actor) is { } invalid)
        {
            return invalid;
        }

        DeploymentRecord? deployment;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            deployment = await db.Deployments.AsNoTracking().SingleOrDefaultAsync(d => d.Id == id, cancellationToken);
        }

        if (deployment is null)
        {
            return new ActionResult(ActionStatus.NotFound, $"There is no deployment {id}.");
        }

        return await CreateAsync(
            deployment.Repository,
            deployment.Environment,
            deployment.Sha,
            deployment.Task,
            deployment.PayloadJson,
            $"Redeploy {CommitSha.Abbreviated(deployment.Sha)} by {actor}",
            actor,
            id,
            cancellationToken);
    }

    /// <summary>
    /// Deploys the commit of the last successful deployment before the current one that deployed a
    /// different commit, with that deployment's task and payload.
    /// </summary>
    public async Task<ActionResult> RollbackAsync(string repository, string environment, string actor, CancellationToken cancellationToken)
    {
        if (Unnamed(actor) is { } invalid)
        {
            return invalid;
        }

        DeploymentRecord? target = null;
        SummaryRow? current;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            current = await DeploymentQueries.CurrentAsync(db, repository, environment, null, cancellationToken);
            if (current is not null)
            {
                var currentId = current.Id;
                var currentSha = current.Sha;
                target = await db.Deployments.AsNoTracking()
                    .Where(d => d.Repository == repository && d.Environment == environment && d.State == DeploymentState.Succeeded && d.Provider != null && d.Id < currentId && d.Sha != currentSha)
                    .OrderByDescending(d => d.Id)
                    .FirstOrDefaultAsync(cancellationToken);
            }
        }

        if (current is null)
        {
            return new ActionResult(ActionStatus.Conflict, $"Nothing to roll back to: {repository} has no successful deployment to {environment}.");
        }

        if (target is null)
        {
            return new ActionResult(ActionStatus.Conflict, $"Nothing to roll back to: no earlier successful deployment of {repository} to {environment} deployed another commit than {CommitSha.Abbreviated(current.Sha)}.");
        }

        return await CreateAsync(repository, environment, target.Sha, target.Task, target.PayloadJson, $"Rollback to {CommitSha.Abbreviated(target.Sha)}", actor, target.Id, cancellationToken);
    }

    /// <summary>
    /// Deploys one commit (a full 40-hex sha) to the environment, with the task and payload of the
    /// environment's latest deployment, so the same provider deploys it.
    /// </summary>
    public async Task<ActionResult> DeployCommitAsync(string repository, string environment, string sha, string actor, CancellationToken cancellationToken)
    {
        if (Unnamed(actor) is { } invalid)
        {
            return invalid;
        }

        if (!CommitSha.TryNormalize(sha, out var commit))
        {
            return new ActionResult(ActionStatus.Invalid, "A commit to deploy is named by its full sha: 40 hexadecimal characters.");
        }

        DeploymentRecord? latest;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            // A deployment with a provider: lock tasks and other systems' deployments say nothing about how to deploy.
            latest = await db.Deployments.AsNoTracking()
                .Where(d => d.Repository == repository && d.Environment == environment && d.Provider != null && d.State != DeploymentState.Ignored)
                .OrderByDescending(d => d.Id)
                .FirstOrDefaultAsync(cancellationToken);
        }

        if (latest is null)
        {
            return new ActionResult(ActionStatus.Conflict, $"Heaven has not deployed {repository} to {environment} yet, so it does not know how to: deploy it once through GitHub (hubot, the API) first.");
        }

        return await CreateAsync(repository, environment, commit, latest.Task, latest.PayloadJson, $"Deploy {CommitSha.Abbreviated(commit)} by {actor}", actor, latest.Id, cancellationToken);
    }

    /// <summary>Cancels a deployment: a queued one at once, a running one within two seconds wherever it runs.</summary>
    public async Task<ActionResult> CancelAsync(long id, string actor, CancellationToken cancellationToken)
    {
        if (Unnamed(actor) is { } invalid)
        {
            return invalid;
        }

        return await queue.RequestCancelAsync(id, actor, cancellationToken) switch
        {
            CancelOutcome.Cancelled => new ActionResult(ActionStatus.Done, $"Deployment {id} had not started; it is cancelled (GitHub will show: error \"{StatusTexts.CancelledBy(actor)}\").", DeploymentId: id),
            CancelOutcome.Requested => new ActionResult(ActionStatus.Done, $"Deployment {id} is running; the Heaven node running it stops it within two seconds and reports \"{StatusTexts.CancelledBy(actor)}\".", DeploymentId: id),
            CancelOutcome.AlreadyFinished => new ActionResult(ActionStatus.Conflict, $"Deployment {id} has already finished; there is nothing to cancel.", DeploymentId: id),
            _ => new ActionResult(ActionStatus.NotFound, $"There is no deployment {id}."),
        };
    }

    /// <summary>Locks the environment (someone else's lock stays and the result says whose); no expiry: the <c>Locks:DefaultTtl</c> setting's.</summary>
    public async Task<ActionResult> LockAsync(string repository, string environment, string? reason, DateTimeOffset? expiresAt, string actor, CancellationToken cancellationToken)
    {
        if (Unnamed(actor) is { } invalid)
        {
            return invalid;
        }

        if (!IsRepositoryName(repository) || string.IsNullOrWhiteSpace(environment))
        {
            return new ActionResult(ActionStatus.Invalid, "Name the repository as owner/name and the environment.");
        }

        var outcome = await locks.LockAsync(repository, environment.Trim(), actor, reason, expiresAt?.UtcDateTime, cancellationToken);
        return new ActionResult(outcome.Succeeded ? ActionStatus.Done : ActionStatus.Conflict, outcome.Description);
    }

    /// <summary>Removes the environment's lock, whoever holds it (a lock is a note to colleagues, not a permission).</summary>
    public async Task<ActionResult> UnlockAsync(string repository, string environment, string actor, CancellationToken cancellationToken)
    {
        if (Unnamed(actor) is { } invalid)
        {
            return invalid;
        }

        var removed = await locks.UnlockAsync(repository, environment, actor, cancellationToken);
        return removed is null
            ? new ActionResult(ActionStatus.NotFound, $"{repository} is not locked on {environment}.")
            : new ActionResult(ActionStatus.Done, $"{removed.Repository} unlocked on {removed.Environment} (it was locked by {removed.LockedBy}).");
    }

    /// <summary>Runs a stored delivery through the intake again; the result is what the intake answered.</summary>
    public async Task<RedeliveryOutcome> RedeliverAsync(string deliveryId, CancellationToken cancellationToken) =>
        await replay.RedeliverAsync(deliveryId, cancellationToken);

    /// <summary>
    /// A GitHub deployment of exactly <paramref name="sha"/> (the ref is the sha: a branch may have
    /// moved on), without required contexts (an operator chose this commit; an old one's checks may be
    /// gone) and without auto-merge (it would deploy a merge instead). The actor is named where
    /// hubot-deploy names the person who asked, so notifications and the dashboard show them.
    /// </summary>
    private async Task<ActionResult> CreateAsync(string repository, string environment, string sha, string task, string payloadJson, string description, string actor, long basedOn, CancellationToken cancellationToken)
    {
        var payload = DeploymentPayload.Parse(payloadJson).ToJsonObject();
        var notify = payload["notify"] as JsonObject ?? new JsonObject();
        notify["user"] = actor;
        notify["user_name"] = actor;
        payload["notify"] = notify;
        // Not an auto-deploy any more, whatever the copied deployment was.
        payload.Remove("auto_deploy");
        var request = new NewDeploymentRequest(sha, task, environment, payload.ToJsonString(), description, AutoMerge: false, RequiredContexts: []);
        try
        {
            var created = await gitHub.CreateDeploymentAsync(repository, request, cancellationToken);
            return new ActionResult(ActionStatus.Done, $"GitHub deployment {created.Id} created: {description}; Heaven runs it when GitHub's webhook arrives.", created.Id, basedOn);
        }
        catch (GitHubRejectedException e)
        {
            return new ActionResult(ActionStatus.GitHubRefused, $"GitHub refused the deployment ({e.StatusCode}): {e.Message}", DeploymentId: basedOn);
        }
        catch (GitHubTransientException e)
        {
            return new ActionResult(ActionStatus.GitHubRefused, $"GitHub could not be reached or is busy; try again later. {e.Message}", DeploymentId: basedOn);
        }
    }

    private static ActionResult? Unnamed(string actor) =>
        string.IsNullOrWhiteSpace(actor) ? new ActionResult(ActionStatus.Invalid, "Every action names who does it.") : null;

    private static bool IsRepositoryName(string repository) =>
        repository is { Length: > 2 } && repository.Count(c => c == '/') == 1 && !repository.StartsWith('/') && !repository.EndsWith('/');
}
