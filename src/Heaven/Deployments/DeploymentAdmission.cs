using Heaven.Checkout;
using Heaven.Locks;
using Heaven.Model;
using Heaven.Providers;
using Heaven.Repositories;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

/// <summary>
/// The one place that decides what becomes of a queued deployment (<see cref="Admission"/>): from the
/// deployment, the server's per-repository policy, the environment locks and the deployments
/// running or waiting for the same environment. It reads; the queue carries the decision out.
/// </summary>
/// <remarks>
/// In order: a lock task changes the lock and needs no provider (hubot-deploy's "deploy:lock" names
/// none). A deployment naming no provider, or one Heaven does not have, is left alone without a
/// status (another deployment system may own it). One naming a provider the repository's settings
/// forbid, or going to an environment they do not list, is refused; a pinned provider replaces
/// whatever provider of Heaven's the payload named. A locked environment rejects it. A busy
/// environment applies its concurrency policy (reject, queue, supersede).
/// </remarks>
public sealed partial class DeploymentAdmission(
    ProviderRegistry providers,
    EnvironmentLocks locks,
    ConcurrencyPolicies policies,
    IOptions<RepositoryOptions> repositories,
    IOptions<DeploymentOptions> options,
    ILogger<DeploymentAdmission> logger)
{
    private const string NoProvider = "the deployment names no payload.config.provider";

    public async Task<Admission> DecideAsync(HeavenDbContext db, DeploymentRecord deployment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(deployment);
        if (LockTaskOf(deployment.Task) is { } task)
        {
            return new Admission.ChangeLock(task);
        }

        var asked = deployment.Payload.Provider;
        var notOurs = NotOurs(deployment);
        if (notOurs is not null || asked is null)
        {
            return new Admission.Ignore($"{notOurs ?? NoProvider}; left to another deployment system", asked);
        }

        var provider = asked;
        if (repositories.Value.For(deployment.Repository) is { } policy)
        {
            if (policy.Provider is { } pinned)
            {
                if (!string.Equals(asked, pinned, StringComparison.Ordinal))
                {
                    Log.Pinned(logger, deployment.Id, deployment.Repository, asked, pinned);
                    provider = pinned;
                }
            }
            else if (policy.Providers.Count > 0 && !policy.Providers.Contains(asked, StringComparer.Ordinal))
            {
                return Refused(deployment, $"provider {RefName.Quote(asked)} is not allowed for {deployment.Repository} (allowed: {string.Join(", ", policy.Providers)})", asked);
            }

            if (policy.Environments.Count > 0 && !policy.Environments.Contains(deployment.Environment, StringComparer.OrdinalIgnoreCase))
            {
                return Refused(deployment, $"environment {RefName.Quote(deployment.Environment)} is not allowed for {deployment.Repository} (allowed: {string.Join(", ", policy.Environments)})", asked);
            }
        }

        // Checked again whenever a waiting deployment comes up: the environment may have been locked meanwhile.
        if (await locks.BlockedAsync(db, deployment, cancellationToken) is { } locked)
        {
            return new Admission.Reject(locked);
        }

        return await ForBusyEnvironmentAsync(db, deployment, cancellationToken) ?? new Admission.Run(provider);
    }

    /// <summary>
    /// Why the deployment is not Heaven's to run (no provider, or a provider Heaven does not have: another
    /// deployment system may own it), or null when it is. Known as soon as the webhook arrives, so the
    /// intake's answer can say so.
    /// </summary>
    public string? NotOurs(DeploymentRecord deployment)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        if (LockTaskOf(deployment.Task) is not null)
        {
            return null;
        }

        return deployment.Payload.Provider switch
        {
            null => NoProvider,
            var asked when providers.Find(asked) is null => $"provider '{asked}' is not one of Heaven's",
            _ => null,
        };
    }

    /// <summary>The line for the deploy log when the provider that runs is not the one the payload asked for.</summary>
    public static string? PinNotice(DeploymentRecord deployment)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        var asked = deployment.Payload.Provider;
        return asked is not null && !string.Equals(asked, deployment.Provider, StringComparison.Ordinal)
            ? $"payload.config.provider asks for {RefName.Quote(asked)}, but {RepositoryOptions.Section}:{deployment.Repository}:Provider pins '{deployment.Provider}': running that instead"
            : null;
    }

    /// <summary>Lock or unlock when the task is <c>&lt;prefix&gt;:lock</c> / <c>&lt;prefix&gt;:unlock</c>; else null.</summary>
    public LockTask? LockTaskOf(string task)
    {
        var (lockTask, unlockTask) = LockTaskNames;
        return task switch
        {
            _ when string.Equals(task, lockTask, StringComparison.Ordinal) => LockTask.Lock,
            _ when string.Equals(task, unlockTask, StringComparison.Ordinal) => LockTask.Unlock,
            _ => null,
        };
    }

    /// <summary>The tasks that lock and unlock an environment: <c>&lt;prefix&gt;:lock</c> and <c>&lt;prefix&gt;:unlock</c>.</summary>
    public (string Lock, string Unlock) LockTaskNames => ($"{options.Value.TaskPrefix}:lock", $"{options.Value.TaskPrefix}:unlock");

    /// <summary>
    /// Null when the deployment may take its environment now; otherwise what the environment's
    /// concurrency policy makes of it. Exclusivity itself is the database's: a unique index on the
    /// <see cref="ExclusivityKey"/> of running deployments.
    /// </summary>
    private async Task<Admission?> ForBusyEnvironmentAsync(HeavenDbContext db, DeploymentRecord deployment, CancellationToken cancellationToken)
    {
        var policy = policies.For(deployment.Repository, deployment.Environment);
        var waiting = await db.Deployments
            .Where(d => d.ExclusivityKey == deployment.ExclusivityKey && d.State == DeploymentState.Queued && d.WaitingSince != null && d.Id != deployment.Id)
            .OrderBy(d => d.Id)
            .ToListAsync(cancellationToken);
        var busy = await db.Deployments.AnyAsync(d => d.ExclusivityKey == deployment.ExclusivityKey && d.State == DeploymentState.Running, cancellationToken);
        if (!busy)
        {
            // Two nodes each put one to wait at the same moment; only the newest may run.
            return policy == ConcurrencyPolicy.Supersede && deployment.WaitingSince is not null && waiting.LastOrDefault(w => w.Id > deployment.Id) is { } newer
                ? new Admission.Reject(StatusTexts.SupersededBy(newer.GitHubDeploymentId))
                : null;
        }

        if (deployment.WaitingSince is not null)
        {
            // Taken by another node since we looked: stays waiting; the next look skips it.
            return new Admission.KeepWaiting();
        }

        return policy switch
        {
            ConcurrencyPolicy.Queue when waiting.Count >= policies.MaxQueueLength => new Admission.Reject(StatusTexts.QueueFull(waiting.Count)),
            ConcurrencyPolicy.Queue => new Admission.Wait(waiting.Count + 1, []),
            ConcurrencyPolicy.Supersede => new Admission.Wait(1, waiting.Where(w => w.Id < deployment.Id).ToList()),
            _ => new Admission.Reject(StatusTexts.AlreadyDeploying),
        };
    }

    private Admission.Refuse Refused(DeploymentRecord deployment, string reason, string asked)
    {
        Log.Refused(logger, deployment.Id, reason);
        return new Admission.Refuse(reason, asked);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} of {Repository} asked for provider {Asked}; the repository's settings pin {Pinned}, which runs instead")]
        public static partial void Pinned(ILogger logger, long deploymentId, string repository, string asked, string pinned);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} refused by its repository's settings: {Reason}")]
        public static partial void Refused(ILogger logger, long deploymentId, string reason);
    }
}
