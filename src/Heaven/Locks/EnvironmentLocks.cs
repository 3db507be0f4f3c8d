using Heaven.Model;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Locks;

/// <summary>What a <c>&lt;prefix&gt;:lock</c> or <c>&lt;prefix&gt;:unlock</c> deployment asks for.</summary>
public enum LockTask
{
    Lock,
    Unlock,
}

/// <summary>How a lock task ended: success (the lock changed) or not, and the words for GitHub.</summary>
public sealed record LockTaskOutcome(bool Succeeded, string Description);

/// <summary>
/// The environment locks: taken and removed by lock tasks, consulted before a deployment takes its
/// environment, listed and removed by operators. Changes made while claiming use the claim's own
/// database context, so the lock and the deployment's outcome are committed together.
/// </summary>
public sealed partial class EnvironmentLocks(
    IHeavenDatabase database,
    TimeProvider time,
    IOptions<LockOptions> options,
    ClusterSignals cluster,
    ILogger<EnvironmentLocks> logger)
{
    public const string UnknownUser = "Unknown";

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>
    /// The person behind a deployment: hubot-deploy creates deployments with a bot's token and names
    /// the chat user in <c>payload.notify</c>, so that wins over the creator's login.
    /// </summary>
    public static string UserOf(DeploymentRecord deployment)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        return deployment.Payload.Deployer(deployment.CreatorLogin) ?? UnknownUser;
    }

    /// <summary><c>payload.reason</c> when given, else the deployment's description.</summary>
    public static string? ReasonOf(DeploymentRecord deployment)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        return deployment.Payload.Reason ?? NullIfBlank(deployment.Description);
    }

    /// <summary>
    /// Takes or removes the lock in <paramref name="db"/> (not saved: the caller commits it with the
    /// deployment's outcome). Locking an environment someone else holds fails and leaves their lock;
    /// locking it again yourself renews it with the new reason.
    /// </summary>
    public async Task<LockTaskOutcome> ApplyAsync(HeavenDbContext db, DeploymentRecord deployment, LockTask task, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(deployment);
        var user = UserOf(deployment);
        var key = EnvironmentLock.KeyOf(deployment.Repository, deployment.Environment);
        var now = Now;
        var existing = await db.EnvironmentLocks.SingleOrDefaultAsync(l => l.LockKey == key, cancellationToken);
        if (task == LockTask.Unlock)
        {
            // Anyone may unlock, as in the original: a lock is a note to colleagues, not a permission.
            if (existing is not null)
            {
                db.EnvironmentLocks.Remove(existing);
            }

            Log.Unlocked(logger, deployment.Repository, deployment.Environment, user);
            return new LockTaskOutcome(true, LockTexts.Unlocked(deployment.Repository, deployment.Environment, user));
        }

        var reason = ReasonOf(deployment);
        return Take(db, existing, deployment.Repository, deployment.Environment, deployment.App, user, reason, options.Value.DefaultTtl is { } ttl ? now + ttl : null, deployment.GitHubDeploymentId);
    }

    /// <summary>
    /// Locks (repository, environment) for <paramref name="by"/> without a deployment (the <c>heaven lock</c>
    /// command, the pages and the API), by the same rules as <c>deploy:lock</c>: someone else's lock stays and the outcome says
    /// whose it is; your own is renewed with the new reason. Without <paramref name="expiresAt"/> the lock
    /// lasts <c>Locks:DefaultTtl</c> (or until unlocked).
    /// </summary>
    public async Task<LockTaskOutcome> LockAsync(string repository, string environment, string by, string? reason, DateTime? expiresAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repository);
        ArgumentException.ThrowIfNullOrWhiteSpace(environment);
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        await using var db = await database.OpenAsync(cancellationToken);
        var key = EnvironmentLock.KeyOf(repository, environment);
        var existing = await db.EnvironmentLocks.SingleOrDefaultAsync(l => l.LockKey == key, cancellationToken);
        var now = Now;
        var expires = expiresAt ?? (options.Value.DefaultTtl is { } ttl ? now + ttl : null);
        var outcome = Take(db, existing, repository, environment, existing?.App, by, NullIfBlank(reason), expires, gitHubDeploymentId: null);
        if (!outcome.Succeeded)
        {
            return outcome;
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Someone locked it in the same moment (the unique key): theirs stands.
            var winner = await ActiveAsync(repository, environment, cancellationToken);
            return new LockTaskOutcome(false, LockTexts.AlreadyLocked(repository, environment, winner?.LockedBy ?? UnknownUser, winner?.Reason));
        }

        // Awaited: heaven lock exits right after this. Dispatchers on every node look again.
        await cluster.AnnounceAsync(ClusterTopics.LocksChanged, key, cancellationToken);
        return outcome;
    }

    private LockTaskOutcome Take(HeavenDbContext db, EnvironmentLock? existing, string repository, string environment, string? app, string user, string? reason, DateTime? expiresAt, long? gitHubDeploymentId)
    {
        var now = Now;
        if (existing is not null && existing.IsActive(now) && !string.Equals(existing.LockedBy, user, StringComparison.OrdinalIgnoreCase))
        {
            return new LockTaskOutcome(false, LockTexts.AlreadyLocked(repository, environment, existing.LockedBy, existing.Reason));
        }

        var held = existing ?? db.EnvironmentLocks.Add(new EnvironmentLock
        {
            Repository = repository,
            Environment = environment,
            LockKey = EnvironmentLock.KeyOf(repository, environment),
            LockedBy = user,
        }).Entity;
        held.Repository = repository;
        held.Environment = environment;
        held.App = app;
        held.LockedBy = user;
        held.Reason = reason is { Length: > 512 } ? reason[..512] : reason;
        held.LockedAt = now;
        held.ExpiresAt = expiresAt;
        held.GitHubDeploymentId = gitHubDeploymentId;
        Log.Locked(logger, repository, environment, user, held.ExpiresAt?.ToString("O") ?? "never");
        return new LockTaskOutcome(true, LockTexts.Locked(repository, environment, user));
    }

    /// <summary>
    /// Why the deployment may not take its environment (the error status's words), or null. Expired
    /// locks block nothing; the holder passes only when <c>Locks:OwnerMayDeploy</c> is on.
    /// </summary>
    public async Task<string?> BlockedAsync(HeavenDbContext db, DeploymentRecord deployment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(deployment);
        var key = EnvironmentLock.KeyOf(deployment.Repository, deployment.Environment);
        var held = await db.EnvironmentLocks.AsNoTracking().SingleOrDefaultAsync(l => l.LockKey == key, cancellationToken);
        if (held is null || !held.IsActive(Now))
        {
            return null;
        }

        if (options.Value.OwnerMayDeploy && string.Equals(held.LockedBy, UserOf(deployment), StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return LockTexts.IsLocked(deployment.Repository, held.Environment, held.LockedBy, held.Reason);
    }

    /// <summary>The lock holding (repository, environment) now, or null (expired locks hold nothing).</summary>
    public async Task<EnvironmentLock?> ActiveAsync(string repository, string environment, CancellationToken cancellationToken)
    {
        var key = EnvironmentLock.KeyOf(repository, environment);
        await using var db = await database.OpenAsync(cancellationToken);
        var held = await db.EnvironmentLocks.AsNoTracking().SingleOrDefaultAsync(l => l.LockKey == key, cancellationToken);
        return held is not null && held.IsActive(Now) ? held : null;
    }

    /// <summary>Every lock, expired ones included (they say so), by repository and environment.</summary>
    public async Task<IReadOnlyList<EnvironmentLock>> ListAsync(CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.EnvironmentLocks.AsNoTracking().OrderBy(l => l.LockKey).ToListAsync(cancellationToken);
    }

    /// <summary>Removes the lock of (repository, environment); the lock removed, or null when there was none.</summary>
    public async Task<EnvironmentLock?> UnlockAsync(string repository, string environment, string by, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var key = EnvironmentLock.KeyOf(repository, environment);
        var held = await db.EnvironmentLocks.SingleOrDefaultAsync(l => l.LockKey == key, cancellationToken);
        if (held is null)
        {
            return null;
        }

        db.EnvironmentLocks.Remove(held);
        await db.SaveChangesAsync(cancellationToken);
        await cluster.AnnounceAsync(ClusterTopics.LocksChanged, key, cancellationToken);
        Log.Unlocked(logger, held.Repository, held.Environment, by);
        return held;
    }

    private static string? NullIfBlank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "{Repository} locked on {Environment} by {User} (expires {Expires})")]
        public static partial void Locked(ILogger logger, string repository, string environment, string user, string expires);

        [LoggerMessage(Level = LogLevel.Information, Message = "{Repository} unlocked on {Environment} by {User}")]
        public static partial void Unlocked(ILogger logger, string repository, string environment, string user);
    }
}
