using Heaven.GitHub;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

/// <summary>A deployment this node claimed: the row as claimed and the fencing token for every later write.</summary>
public sealed record ClaimedDeployment(DeploymentRecord Deployment, long Generation);

/// <summary>Decides, before a queued deployment takes an environment, whether Heaven runs it at all.</summary>
public interface IDeploymentAdmission
{
    /// <summary>Null to run it; otherwise why it is left to another deployment system (no status is posted).</summary>
    string? ReasonToIgnore(DeploymentRecord deployment);

    /// <summary>
    /// Asked when it is not ignored: null to run it; otherwise why the server's settings forbid it. It
    /// then ends Errored with an <c>error</c> status carrying the reason, without taking the environment.
    /// </summary>
    string? ReasonToRefuse(DeploymentRecord deployment) => null;
}

/// <summary>
/// The deployments table as a queue. Claims are atomic (PostgreSQL: <c>FOR UPDATE SKIP LOCKED</c>;
/// SQLite: one writer at a time), exclusivity per environment is a unique index on running rows, and
/// every write after the claim is fenced by the lease generation, so a worker that lost its lease
/// can never overwrite a newer state.
/// </summary>
public sealed partial class DeploymentQueue(
    IHeavenDatabase database,
    IDeploymentStatusPoster statuses,
    IDeploymentAdmission admission,
    NodeIdentity node,
    TimeProvider time,
    IOptions<DeploymentOptions> options,
    ILogger<DeploymentQueue> logger)
{
    public const string AlreadyDeploying = "Already deploying.";
    public const string WorkerLost = "Heaven lost the worker running this deployment";

    private TimeSpan Lease => TimeSpan.FromSeconds(options.Value.LeaseSeconds);

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>Claims the oldest queued deployment, turning away (with a status) the ones that cannot run.</summary>
    public async Task<ClaimedDeployment?> ClaimNextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await using var db = await database.OpenAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var candidateId = await NextQueuedIdAsync(db, cancellationToken);
            if (candidateId is null)
            {
                return null;
            }

            var deployment = await db.Deployments.SingleAsync(d => d.Id == candidateId, cancellationToken);
            if (admission.ReasonToIgnore(deployment) is { } reason)
            {
                DeploymentTransitions.Move(deployment, DeploymentState.Ignored, Now);
                deployment.StatusDescription = reason;
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                Log.Ignored(logger, deployment.Id, reason);
                continue;
            }

            if (admission.ReasonToRefuse(deployment) is { } refusal)
            {
                DeploymentTransitions.Move(deployment, DeploymentState.Errored, Now);
                deployment.LeaseGeneration++;
                deployment.StatusDescription = refusal;
                await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Error, refusal, null, null, deployment.Environment), cancellationToken);
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                statuses.Wake();
                continue;
            }

            DeploymentTransitions.Move(deployment, DeploymentState.Running, Now);
            deployment.LeaseOwner = node.Id;
            deployment.LeaseGeneration++;
            deployment.LeaseExpiresAt = Now + Lease;
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return new ClaimedDeployment(deployment, deployment.LeaseGeneration);
            }
            catch (DbUpdateConcurrencyException)
            {
                // Another worker claimed it between our read and our write; look again.
                continue;
            }
            catch (DbUpdateException e) when (DatabaseErrors.IsUniqueViolation(e))
            {
                await transaction.RollbackAsync(cancellationToken);
            }

            await RejectAsync(candidateId.Value, AlreadyDeploying, cancellationToken);
        }
    }

    /// <summary>Extends the lease; false when it is no longer ours (reaped, or claimed anew).</summary>
    public async Task<bool> RenewAsync(ClaimedDeployment claim, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var expires = Now + Lease;
        var updated = await db.Deployments
            .Where(d => d.Id == claim.Deployment.Id && d.LeaseGeneration == claim.Generation && d.State == DeploymentState.Running)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.LeaseExpiresAt, expires), cancellationToken);
        return updated == 1;
    }

    /// <summary>Who asked to cancel this deployment, if anyone.</summary>
    public async Task<string?> CancelRequestedByAsync(long deploymentId, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.Deployments.Where(d => d.Id == deploymentId).Select(d => d.CancelRequestedBy).SingleOrDefaultAsync(cancellationToken);
    }

    /// <summary>Posts a status that does not change the state (in_progress), fenced by the lease.</summary>
    public Task<bool> ReportAsync(ClaimedDeployment claim, DeploymentStatusRequest status, CancellationToken cancellationToken) =>
        WriteFencedAsync(claim, null, status, null, cancellationToken);

    /// <summary>Records where the deploy's gist is, fenced by the lease.</summary>
    public Task<bool> RecordGistAsync(ClaimedDeployment claim, GistReference gist, CancellationToken cancellationToken) =>
        WriteFencedAsync(claim, null, null, d => (d.GistId, d.GistUrl) = (gist.Id, gist.HtmlUrl), cancellationToken);

    /// <summary>Ends a running deployment with its final state and status; false when the lease was lost meanwhile.</summary>
    public Task<bool> FinishAsync(ClaimedDeployment claim, DeploymentState state, DeploymentStatusRequest status, CancellationToken cancellationToken) =>
        WriteFencedAsync(claim, state, status, null, cancellationToken);

    /// <summary>
    /// Cancel: a queued deployment ends at once; a running one gets a flag its worker notices within
    /// two seconds, wherever it runs.
    /// </summary>
    public async Task<CancelOutcome> RequestCancelAsync(long deploymentId, string requestedBy, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var deployment = await db.Deployments.SingleOrDefaultAsync(d => d.Id == deploymentId, cancellationToken);
        if (deployment is null)
        {
            return CancelOutcome.NotFound;
        }

        if (deployment.State == DeploymentState.Queued)
        {
            DeploymentTransitions.Move(deployment, DeploymentState.Cancelled, Now);
            deployment.LeaseGeneration++;
            deployment.CancelRequestedBy = requestedBy;
            deployment.CancelRequestedAt = Now;
            deployment.StatusDescription = StatusTexts.CancelledBy(requestedBy);
            await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Error, deployment.StatusDescription, null, null, deployment.Environment), cancellationToken);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                statuses.Wake();
                return CancelOutcome.Cancelled;
            }
            catch (DbUpdateConcurrencyException)
            {
                // Claimed in the meantime: fall through to flag the running deployment.
                db.ChangeTracker.Clear();
                deployment = await db.Deployments.SingleAsync(d => d.Id == deploymentId, cancellationToken);
            }
        }

        if (deployment.State != DeploymentState.Running)
        {
            return CancelOutcome.AlreadyFinished;
        }

        await db.Deployments.Where(d => d.Id == deploymentId && d.State == DeploymentState.Running)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.CancelRequestedBy, requestedBy).SetProperty(d => d.CancelRequestedAt, Now), cancellationToken);
        return CancelOutcome.Requested;
    }

    /// <summary>
    /// Turns deployments whose worker is gone into Errored with an error status: leases that expired,
    /// and (at start) whatever this node's previous run left Running. Nothing is re-run.
    /// </summary>
    public async Task<int> ReapAsync(bool includeOwnLeases, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var now = Now;
        var lost = await db.Deployments
            .Where(d => d.State == DeploymentState.Running && (d.LeaseExpiresAt < now || (includeOwnLeases && d.LeaseOwner == node.Id)))
            .ToListAsync(cancellationToken);
        var reaped = 0;
        foreach (var deployment in lost)
        {
            DeploymentTransitions.Move(deployment, DeploymentState.Errored, now);
            deployment.LeaseGeneration++;
            deployment.LeaseExpiresAt = null;
            deployment.StatusDescription = WorkerLost;
            await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Error, WorkerLost, null, null, deployment.Environment), cancellationToken);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                reaped++;
                Log.Reaped(logger, deployment.Id, deployment.LeaseOwner ?? "-");
            }
            catch (DbUpdateConcurrencyException)
            {
                // Its worker renewed or finished just now: it was not lost after all.
                db.ChangeTracker.Clear();
            }
        }

        if (reaped > 0)
        {
            statuses.Wake();
        }

        return reaped;
    }

    private async Task RejectAsync(long deploymentId, string description, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var deployment = await db.Deployments.SingleAsync(d => d.Id == deploymentId, cancellationToken);
        if (deployment.State != DeploymentState.Queued)
        {
            return;
        }

        DeploymentTransitions.Move(deployment, DeploymentState.Rejected, Now);
        deployment.LeaseGeneration++;
        deployment.StatusDescription = description;
        await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Error, description, null, null, deployment.Environment), cancellationToken);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            statuses.Wake();
            Log.Rejected(logger, deploymentId, description);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Someone else decided its fate first.
        }
    }

    private async Task<bool> WriteFencedAsync(
        ClaimedDeployment claim,
        DeploymentState? state,
        DeploymentStatusRequest? status,
        Action<DeploymentRecord>? change,
        CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var deployment = await db.Deployments.SingleAsync(d => d.Id == claim.Deployment.Id, cancellationToken);
        if (deployment.LeaseGeneration != claim.Generation || deployment.State != DeploymentState.Running)
        {
            Log.Fenced(logger, deployment.Id, claim.Generation, deployment.LeaseGeneration);
            return false;
        }

        change?.Invoke(deployment);
        if (state is { } next)
        {
            DeploymentTransitions.Move(deployment, next, Now);
            deployment.LeaseExpiresAt = null;
        }

        if (status is not null)
        {
            deployment.StatusDescription = status.Description;
            await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, status, cancellationToken);
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            Log.Fenced(logger, deployment.Id, claim.Generation, -1);
            return false;
        }

        if (status is not null)
        {
            statuses.Wake();
        }

        return true;
    }

    private async Task<long?> NextQueuedIdAsync(HeavenDbContext db, CancellationToken cancellationToken)
    {
        if (database.Provider == DatabaseProvider.Postgres)
        {
            // Several nodes may look at once: each takes a different row, none waits for another.
            return await db.Database
                .SqlQueryRaw<long>("SELECT id AS \"Value\" FROM deployments WHERE state = 'Queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED")
                .Cast<long?>()
                .FirstOrDefaultAsync(cancellationToken);
        }

        return await db.Deployments
            .Where(d => d.State == DeploymentState.Queued)
            .OrderBy(d => d.Id)
            .Select(d => (long?)d.Id)
            .FirstOrDefaultAsync(cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} ignored: {Reason}")]
        public static partial void Ignored(ILogger logger, long deploymentId, string reason);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} rejected: {Reason}")]
        public static partial void Rejected(ILogger logger, long deploymentId, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Deployment {DeploymentId} lost its worker (lease of {Owner} expired); reported as errored")]
        public static partial void Reaped(ILogger logger, long deploymentId, string owner);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Deployment {DeploymentId}: write with lease generation {Generation} refused (now {Current}); another worker or the reaper owns it")]
        public static partial void Fenced(ILogger logger, long deploymentId, long generation, long current);
    }
}

public enum CancelOutcome
{
    NotFound,
    Cancelled,
    Requested,
    AlreadyFinished,
}
