using Heaven.Configuration;
using Heaven.GitHub;
using Heaven.Locks;
using Heaven.Model;
using Heaven.Statuses;
using Heaven.Storage;
using Heaven.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

/// <summary>A deployment this node claimed: the row as claimed and the fencing token for every later write.</summary>
public sealed record ClaimedDeployment(DeploymentRecord Deployment, long Generation);

/// <summary>
/// The deployments table as a queue. Claims are atomic (PostgreSQL: <c>FOR UPDATE SKIP LOCKED</c>;
/// SQLite: one writer at a time), exclusivity per environment is a unique index on running rows, and
/// every write after the claim is fenced by the lease generation, so a worker that lost its lease
/// can never overwrite a newer state.
/// </summary>
public sealed partial class DeploymentQueue(
    IHeavenDatabase database,
    IDeploymentStatusPoster statuses,
    DeploymentAdmission admission,
    EnvironmentLocks locks,
    NodeIdentity node,
    ClusterSignals cluster,
    HeavenMetrics metrics,
    TimeProvider time,
    IOptions<DeploymentOptions> options,
    ILogger<DeploymentQueue> logger)
{
    public const string WorkerLost = "Heaven lost the worker running this deployment";

    private TimeSpan Lease => TimeSpan.FromSeconds(options.Value.LeaseSeconds);

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>
    /// Claims the next queued deployment that can run now (repositories in turn, see
    /// <see cref="NextCandidateIdAsync"/>), settling on the way every one that
    /// cannot: lock tasks are carried out, others are ignored, refused, rejected for a lock, or —
    /// when their environment is busy — rejected, put to wait, or superseded by their environment's
    /// concurrency policy. A waiting deployment is looked at again only once its environment is free.
    /// </summary>
    public async Task<ClaimedDeployment?> ClaimNextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await using var db = await database.OpenAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var candidateId = await NextCandidateIdAsync(db, cancellationToken);
            if (candidateId is null)
            {
                return null;
            }

            var deployment = await db.Deployments.SingleAsync(d => d.Id == candidateId, cancellationToken);
            try
            {
                if (await SettleAsync(db, deployment, cancellationToken))
                {
                    await db.SaveChangesAsync(cancellationToken);
                    await transaction.CommitAsync(cancellationToken);
                    statuses.Wake();
                    // Settled without running: ended, or a lock task done; superseded ones may have ended too.
                    cluster.Announce(ClusterTopics.DeploymentFinished);
                    continue;
                }

                if (await RunsAtRepositoryLimitAsync(db, deployment.Repository, cancellationToken))
                {
                    // Its environment was busy when we picked it and freed since: it runs once its
                    // repository has a slot again; the next look leaves it queued.
                    await transaction.RollbackAsync(cancellationToken);
                    continue;
                }

                DeploymentTransitions.Move(deployment, DeploymentState.Running, Now);
                deployment.LeaseOwner = node.Id;
                deployment.LeaseGeneration++;
                deployment.LeaseExpiresAt = Now + Lease;
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return new ClaimedDeployment(deployment, deployment.LeaseGeneration);
            }
            catch (DbUpdateConcurrencyException)
            {
                // Another worker claimed, cancelled or superseded a row we changed; look again.
            }
            catch (DbUpdateException e) when (DatabaseErrors.IsUniqueViolation(e))
            {
                // Another node took the environment (or the lock) between our read and our write; the
                // next look sees it and applies the policy.
                await transaction.RollbackAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// Carries out <see cref="DeploymentAdmission"/>'s decision in <paramref name="db"/>, unsaved.
    /// False: it may take its environment now (with the provider recorded on it).
    /// </summary>
    private async Task<bool> SettleAsync(HeavenDbContext db, DeploymentRecord deployment, CancellationToken cancellationToken)
    {
        switch (await admission.DecideAsync(db, deployment, cancellationToken))
        {
            case Admission.Run run:
                deployment.Provider = run.Provider;
                return false;
            case Admission.ChangeLock change:
                var outcome = await locks.ApplyAsync(db, deployment, change.Task, cancellationToken);
                await CloseAsync(
                    db,
                    deployment,
                    outcome.Succeeded ? DeploymentState.Succeeded : DeploymentState.Rejected,
                    outcome.Succeeded ? GitHubDeploymentState.Success : GitHubDeploymentState.Error,
                    outcome.Description,
                    cancellationToken);
                return true;
            case Admission.Ignore ignore:
                deployment.Provider = ignore.AskedProvider;
                DeploymentTransitions.Move(deployment, DeploymentState.Ignored, Now);
                deployment.StatusDescription = ignore.Reason;
                Log.Ignored(logger, deployment.Id, ignore.Reason);
                return true;
            case Admission.Refuse refuse:
                deployment.Provider = refuse.AskedProvider;
                await CloseAsync(db, deployment, DeploymentState.Errored, GitHubDeploymentState.Error, refuse.Reason, cancellationToken);
                return true;
            case Admission.Reject reject:
                await CloseAsync(db, deployment, DeploymentState.Rejected, GitHubDeploymentState.Error, reject.Reason, cancellationToken);
                return true;
            case Admission.Wait wait:
                await WaitAsync(db, deployment, wait.Ahead, cancellationToken);
                foreach (var older in wait.Superseded)
                {
                    await CloseAsync(db, older, DeploymentState.Rejected, GitHubDeploymentState.Error, StatusTexts.SupersededBy(deployment.GitHubDeploymentId), cancellationToken);
                }

                return true;
            case Admission.KeepWaiting:
                return true;
            case var other:
                throw new InvalidOperationException($"Unknown admission {other}.");
        }
    }

    /// <summary>Ends a deployment that never ran, with the status GitHub shows for it.</summary>
    private async Task CloseAsync(HeavenDbContext db, DeploymentRecord deployment, DeploymentState state, GitHubDeploymentState gitHubState, string description, CancellationToken cancellationToken)
    {
        DeploymentTransitions.Move(deployment, state, Now);
        // Bumped so a node that read the row before (to claim or supersede it) cannot write over this.
        deployment.LeaseGeneration++;
        // Stored and logged as GitHub gets it: masked and cut.
        var posted = (await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, new DeploymentStatusRequest(gitHubState, description, null, null, deployment.Environment), cancellationToken)).Description;
        deployment.StatusDescription = posted;
        if (state == DeploymentState.Rejected)
        {
            Log.Rejected(logger, deployment.Id, posted);
        }
    }

    /// <summary>Puts a deployment to wait for its environment, telling GitHub it is queued.</summary>
    private async Task WaitAsync(HeavenDbContext db, DeploymentRecord deployment, int ahead, CancellationToken cancellationToken)
    {
        deployment.WaitingSince = Now;
        deployment.LeaseGeneration++;
        deployment.StatusDescription = (await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Queued, StatusTexts.Waiting(deployment.Environment, ahead), null, null, deployment.Environment), cancellationToken)).Description;
        Log.Waiting(logger, deployment.Id, deployment.Environment, ahead);
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
    /// Cancel: a queued deployment ends at once; a running one gets a flag, announced to every node so its
    /// worker acts at once wherever it runs (and finds it within two seconds if the announcement is lost).
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
            deployment.StatusDescription = (await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Error, StatusTexts.CancelledBy(requestedBy), null, null, deployment.Environment), cancellationToken)).Description;
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                statuses.Wake();
                await cluster.AnnounceAsync(ClusterTopics.DeploymentFinished, ClusterTopics.Subject(deploymentId), cancellationToken);
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
        // The node running it stops it now rather than at its next look at the flag. Awaited: heaven
        // cancel exits right after this.
        await cluster.AnnounceAsync(ClusterTopics.CancelRequested, ClusterTopics.Subject(deploymentId), cancellationToken);
        return CancelOutcome.Requested;
    }

    /// <summary>
    /// Turns deployments whose worker is gone into Errored with an error status: leases that expired,
    /// and (at start) whatever this node's previous run left Running. Nothing is re-run.
    /// </summary>
    public async Task<int> ReapAsync(bool includeOwnLeases, CancellationToken cancellationToken)
    {
        var now = Now;
        List<long> candidates;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            candidates = await Lost(db, now, includeOwnLeases).Select(d => d.Id).ToListAsync(cancellationToken);
        }

        var reaped = 0;
        foreach (var id in candidates)
        {
            // Each in a context of its own: when another node's reaper (or the deploy's own worker) wrote
            // one first, nothing of that refused write may ride along with the next one's save, least of
            // all its "lost" status for a deployment that stays as it was.
            await using var db = await database.OpenAsync(cancellationToken);
            var deployment = await Lost(db, now, includeOwnLeases).SingleOrDefaultAsync(d => d.Id == id, cancellationToken);
            if (deployment is null)
            {
                continue;
            }

            DeploymentTransitions.Move(deployment, DeploymentState.Errored, now);
            deployment.LeaseGeneration++;
            deployment.LeaseExpiresAt = null;
            deployment.StatusDescription = (await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, new DeploymentStatusRequest(GitHubDeploymentState.Error, WorkerLost, null, null, deployment.Environment), cancellationToken)).Description;
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                reaped++;
                cluster.Announce(ClusterTopics.DeploymentFinished, ClusterTopics.Subject(deployment.Id));
                metrics.DeploymentLost(deployment.Provider);
                Log.Reaped(logger, deployment.Id, deployment.LeaseOwner ?? "-");
            }
            catch (DbUpdateConcurrencyException)
            {
                // Its worker renewed or finished just now, or another node reaped it: not this one's to report.
            }
        }

        if (reaped > 0)
        {
            statuses.Wake();
        }

        return reaped;
    }

    private IQueryable<DeploymentRecord> Lost(HeavenDbContext db, DateTime now, bool includeOwnLeases) =>
        db.Deployments.Where(d => d.State == DeploymentState.Running && (d.LeaseExpiresAt < now || (includeOwnLeases && d.LeaseOwner == node.Id)));

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
            // Stored as GitHub gets it: masked and cut.
            deployment.StatusDescription = (await statuses.EnqueueAsync(db, deployment.Id, deployment.Repository, deployment.GitHubDeploymentId, status, cancellationToken)).Description;
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

        if (state is not null)
        {
            // Viewers of its live log end now; a deployment waiting for its environment may start.
            cluster.Announce(ClusterTopics.DeploymentFinished, ClusterTopics.Subject(deployment.Id));
        }

        return true;
    }

    /// <summary>
    /// The next queued deployment to look at: not yet looked at, or waiting for an environment that
    /// is free now. Repositories take turns: the one whose last deploy started longest ago (or never)
    /// comes first, and within a repository the oldest, so an environment's line stays in order.
    /// Waiting ones behind a running deploy are skipped, so they keep their place without blocking others.
    /// </summary>
    /// <remarks>
    /// The turn is read from the deployments themselves (the repository's latest <c>started_at</c>, an
    /// index lookup), so every node sees the same order and a restart keeps it. A repository running
    /// <c>Deployments:MaxParallelPerRepository</c> deploys on this node has its deployments left queued,
    /// except those that will not take a slot: lock tasks, and deployments meeting a busy environment
    /// (rejected or put to wait by its policy at once, as ever). The count is this node's: only this
    /// node's dispatcher claims for it, one claim at a time, so it cannot be raced past.
    /// </remarks>
    private async Task<long?> NextCandidateIdAsync(HeavenDbContext db, CancellationToken cancellationToken)
    {
        var nodeId = node.Id;
        var perRepository = options.Value.MaxParallelPerRepository;
        var (lockTask, unlockTask) = admission.LockTaskNames;
        if (database.Provider == DatabaseProvider.Postgres)
        {
            // Several nodes may look at once: each takes a different row, none waits for another.
            // NULLS FIRST: a repository that never deployed has waited longest (PostgreSQL sorts NULL last by default).
            return await db.Database
                .SqlQuery<long>($"""
                    SELECT d.id AS "Value" FROM deployments d
                    WHERE d.state = 'Queued'
                      AND (d.waiting_since IS NULL
                           OR NOT EXISTS (SELECT 1 FROM deployments r WHERE r.lock_key = d.lock_key AND r.state = 'Running'))
                      AND ((SELECT count(*) FROM deployments o
                            WHERE o.repository = d.repository AND o.state = 'Running' AND o.lease_owner = {nodeId}) < {perRepository}
                           OR d.task IN ({lockTask}, {unlockTask})
                           OR EXISTS (SELECT 1 FROM deployments r WHERE r.lock_key = d.lock_key AND r.state = 'Running'))
                    ORDER BY (SELECT max(t.started_at) FROM deployments t WHERE t.repository = d.repository) NULLS FIRST, d.id
                    LIMIT 1 FOR UPDATE OF d SKIP LOCKED
                    """)
                .Cast<long?>()
                .FirstOrDefaultAsync(cancellationToken);
        }

        // SQLite sorts NULL (a repository that never deployed) first.
        return await db.Deployments
            .Where(d => d.State == DeploymentState.Queued
                && (d.WaitingSince == null || !db.Deployments.Any(r => r.ExclusivityKey == d.ExclusivityKey && r.State == DeploymentState.Running))
                && (db.Deployments.Count(o => o.Repository == d.Repository && o.State == DeploymentState.Running && o.LeaseOwner == nodeId) < perRepository
                    || d.Task == lockTask
                    || d.Task == unlockTask
                    || db.Deployments.Any(r => r.ExclusivityKey == d.ExclusivityKey && r.State == DeploymentState.Running)))
            .OrderBy(d => db.Deployments.Where(t => t.Repository == d.Repository).Max(t => t.StartedAt))
            .ThenBy(d => d.Id)
            .Select(d => (long?)d.Id)
            .FirstOrDefaultAsync(cancellationToken);
    }

    /// <summary>Whether this node already runs <c>Deployments:MaxParallelPerRepository</c> deploys of the repository.</summary>
    private async Task<bool> RunsAtRepositoryLimitAsync(HeavenDbContext db, string repository, CancellationToken cancellationToken) =>
        await db.Deployments.CountAsync(d => d.Repository == repository && d.State == DeploymentState.Running && d.LeaseOwner == node.Id, cancellationToken)
            >= options.Value.MaxParallelPerRepository;

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} ignored: {Reason}")]
        public static partial void Ignored(ILogger logger, long deploymentId, string reason);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} rejected: {Reason}")]
        public static partial void Rejected(ILogger logger, long deploymentId, string reason);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} waits for {Environment} ({Ahead} ahead)")]
        public static partial void Waiting(ILogger logger, long deploymentId, string environment, int ahead);

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
