using System.Linq.Expressions;
using Heaven.GitHub;
using Heaven.Locks;
using Heaven.Model;
using Heaven.Repositories;
using Heaven.Statuses;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Operations;

/// <summary>
/// What the pages, the API and the CLI read about deployments: lists, one deployment with its
/// statuses, the dashboard, an environment's history, and the commits an environment does not have yet.
/// Names of repositories and environments match as stored (as GitHub spells them).
/// </summary>
public sealed class DeploymentQueries(
    IHeavenDatabase database,
    IGitHubRepositoryApi gitHub,
    IOptions<RepositoryOptions> repositories,
    TimeProvider time)
{
    /// <summary>The most commits <see cref="UndeployedCommitsAsync"/> reads CI results for: two GitHub calls each.</summary>
    public const int MaxUndeployedCommits = 50;

    /// <summary>Deployments newest first, filtered and paged by <paramref name="filter"/>.</summary>
    /// <exception cref="ArgumentException">A limit outside 1..500 or a state that is none of <see cref="DeploymentStates.All"/>.</exception>
    public async Task<IReadOnlyList<DeploymentSummary>> ListAsync(DeploymentFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (filter.Limit is < 1 or > DeploymentFilter.MaxLimit)
        {
            throw new ArgumentException($"The limit must be between 1 and {DeploymentFilter.MaxLimit}.", nameof(filter));
        }

        var state = filter.State is null ? (DeploymentState?)null
            : DeploymentStates.Parse(filter.State) ?? throw new ArgumentException($"'{filter.State}' is not a state; one of {string.Join(", ", DeploymentStates.All)}.", nameof(filter));

        await using var db = await database.OpenAsync(cancellationToken);
        var query = db.Deployments.AsNoTracking();
        if (filter.Repository is { } repository)
        {
            query = query.Where(d => d.Repository == repository);
        }

        if (filter.Environment is { } environment)
        {
            query = query.Where(d => d.Environment == environment);
        }

        if (state is { } wanted)
        {
            query = query.Where(d => d.State == wanted);
        }

        if (filter.BeforeId is { } before)
        {
            query = query.Where(d => d.Id < before);
        }

        var rows = await query.OrderByDescending(d => d.Id).Take(filter.Limit).Select(SummaryRow.Projection).ToListAsync(cancellationToken);
        return rows.Select(r => r.ToSummary()).ToList();
    }

    /// <summary>A deployment and the statuses Heaven posted or will post for it; null when there is no such deployment.</summary>
    public async Task<DeploymentDetail?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var row = await db.Deployments.AsNoTracking().Where(d => d.Id == id).Select(SummaryRow.Projection).SingleOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            return null;
        }

        var items = await db.WorkItems.AsNoTracking()
            .Where(w => w.DeploymentId == id && w.Kind == WorkItemKinds.PostDeploymentStatus)
            .OrderBy(w => w.Id)
            .ToListAsync(cancellationToken);
        var timeline = new List<StatusTimelineEntry>(items.Count);
        foreach (var item in items)
        {
            var status = DeploymentStatusPayload.FromJson(item.PayloadJson);
            if (status is null)
            {
                continue;
            }

            timeline.Add(new StatusTimelineEntry(
                OctokitGitHub.StateName(status.State),
                status.Description,
                Utc(item.CreatedAt),
                item.State == WorkItemState.Done,
                item.State == WorkItemState.Failed,
                item.Attempts,
                item.State == WorkItemState.Done ? Utc(item.CompletedAt) : null,
                item.LastError));
        }

        return new DeploymentDetail(row.ToSummary(), timeline);
    }

    /// <summary>The repository of a deployment (who may see it depends on it), or null when there is no such deployment.</summary>
    public async Task<string?> RepositoryOfAsync(long id, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.Deployments.AsNoTracking().Where(d => d.Id == id).Select(d => d.Repository).SingleOrDefaultAsync(cancellationToken);
    }

    /// <summary>
    /// The Heaven id of a GitHub deployment, or null. GitHub ids are unique per GitHub host: give the
    /// repository when Heaven serves more than one host; without it the oldest match is taken.
    /// </summary>
    public async Task<long?> FindByGitHubIdAsync(long gitHubDeploymentId, CancellationToken cancellationToken, string? repository = null)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var query = db.Deployments.AsNoTracking().Where(d => d.GitHubDeploymentId == gitHubDeploymentId);
        if (repository is not null)
        {
            query = query.Where(d => d.Repository == repository);
        }

        return await query.OrderBy(d => d.Id).Select(d => (long?)d.Id).FirstOrDefaultAsync(cancellationToken);
    }

    /// <summary>
    /// Every repository Heaven has deployed (or has settings for) and each of its environments: what is
    /// deployed, the latest deployment, the running one, how many wait, and the lock. A few index
    /// searches per environment, then the rows they name (one JSON parameter for all ids).
    /// </summary>
    public async Task<Dashboard> DashboardAsync(CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var deployments = db.Deployments.AsNoTracking();
        // One row an environment, each id a short index search within it (the newest entry; the newest
        // successful deployment walking back from there). The correlated searches sit on a DISTINCT, not
        // a GROUP BY: SQLite would evaluate them for every deployment of a group.
        var perEnvironment = await deployments
            .Select(d => new { d.Repository, d.Environment })
            .Distinct()
            .Select(e => new
            {
                e.Repository,
                e.Environment,
                Latest = deployments
                    .Where(d => d.Repository == e.Repository && d.Environment == e.Environment)
                    .Max(d => (long?)d.Id),
                // A lock task succeeds too, but deploys nothing: it has no provider.
                Current = deployments
                    .Where(d => d.Repository == e.Repository && d.Environment == e.Environment && d.State == DeploymentState.Succeeded && d.Provider != null)
                    .OrderByDescending(d => d.Id).Select(d => (long?)d.Id).FirstOrDefault(),
            })
            .ToListAsync(cancellationToken);

        // Running and waiting deployments are few: read them through the state index.
        var running = await deployments
            .Where(d => d.State == DeploymentState.Running)
            .GroupBy(d => new { d.Repository, d.Environment })
            .Select(g => new { g.Key.Repository, g.Key.Environment, Id = g.Max(d => d.Id) })
            .ToListAsync(cancellationToken);
        var queued = await deployments
            .Where(d => d.State == DeploymentState.Queued)
            .GroupBy(d => new { d.Repository, d.Environment })
            .Select(g => new { g.Key.Repository, g.Key.Environment, Count = g.Count() })
            .ToListAsync(cancellationToken);

        var environments = perEnvironment.ToDictionary(e => (e.Repository, e.Environment), e => new EnvironmentIds(e.Latest, e.Current));
        foreach (var r in running)
        {
            environments[(r.Repository, r.Environment)] = environments.GetValueOrDefault((r.Repository, r.Environment), new EnvironmentIds()) with { Running = r.Id };
        }

        foreach (var q in queued)
        {
            environments[(q.Repository, q.Environment)] = environments.GetValueOrDefault((q.Repository, q.Environment), new EnvironmentIds()) with { Queued = q.Count };
        }

        // Most environments' latest deployment is the deployed one: usually one row an environment.
        var wanted = environments.Values.SelectMany(e => new[] { e.Latest, e.Current, e.Running }).OfType<long>().Distinct().ToArray();
        var rows = wanted.Length == 0
            ? new Dictionary<long, DeploymentSummary>()
            // One parameter for all ids (a JSON array), not thousands of them.
            : (await deployments.Where(d => EF.Parameter(wanted).Contains(d.Id)).Select(SummaryRow.Projection).ToListAsync(cancellationToken))
                .ToDictionary(r => r.Id, r => r.ToSummary());

        var now = time.GetUtcNow().UtcDateTime;
        var locks = (await db.EnvironmentLocks.AsNoTracking().ToListAsync(cancellationToken))
            .Where(l => l.IsActive(now))
            .ToDictionary(l => l.LockKey, l => ToView(l, now));
        foreach (var held in locks.Values)
        {
            environments.TryAdd((held.Repository, held.Environment), new EnvironmentIds());
        }

        var byRepository = environments
            .GroupBy(e => e.Key.Repository, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.OrdinalIgnoreCase);
        foreach (var configured in repositories.Value.Repositories)
        {
            if (!byRepository.TryGetValue(configured.Repository, out var list))
            {
                list = [];
                byRepository[configured.Repository] = list;
            }

            foreach (var environment in configured.Environments.Where(e => !list.Any(l => string.Equals(l.Key.Environment, e, StringComparison.OrdinalIgnoreCase))))
            {
                list.Add(new KeyValuePair<(string, string), EnvironmentIds>((configured.Repository, environment), new EnvironmentIds()));
            }
        }

        var result = byRepository
            .OrderBy(r => r.Key, StringComparer.OrdinalIgnoreCase)
            .Select(r => new RepositoryStatus(
                r.Key,
                r.Value
                    .OrderBy(e => e.Key.Environment, StringComparer.OrdinalIgnoreCase)
                    .Select(e => new EnvironmentStatus(
                        e.Key.Environment,
                        Pick(rows, e.Value.Current),
                        Pick(rows, e.Value.Latest),
                        Pick(rows, e.Value.Running),
                        e.Value.Queued,
                        locks.GetValueOrDefault(EnvironmentLock.KeyOf(e.Key.Repository, e.Key.Environment))))
                    .ToList()))
            .ToList();
        return new Dashboard(result);
    }

    /// <summary>One environment: what is deployed, its lock, and a page of its history (newest first, older than <paramref name="beforeId"/>).</summary>
    public async Task<EnvironmentHistory> EnvironmentAsync(string repository, string environment, long? beforeId, CancellationToken cancellationToken, int limit = DeploymentFilter.DefaultLimit)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repository);
        ArgumentException.ThrowIfNullOrWhiteSpace(environment);
        if (limit is < 1 or > DeploymentFilter.MaxLimit)
        {
            throw new ArgumentException($"The limit must be between 1 and {DeploymentFilter.MaxLimit}.", nameof(limit));
        }

        await using var db = await database.OpenAsync(cancellationToken);
        var query = db.Deployments.AsNoTracking().Where(d => d.Repository == repository && d.Environment == environment);
        if (beforeId is { } before)
        {
            query = query.Where(d => d.Id < before);
        }

        var page = await query.OrderByDescending(d => d.Id).Take(limit + 1).Select(SummaryRow.Projection).ToListAsync(cancellationToken);
        var current = await CurrentAsync(db, repository, environment, null, cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        var key = EnvironmentLock.KeyOf(repository, environment);
        var held = await db.EnvironmentLocks.AsNoTracking().SingleOrDefaultAsync(l => l.LockKey == key, cancellationToken);
        var shown = page.Take(limit).Select(r => r.ToSummary()).ToList();
        return new EnvironmentHistory(
            repository,
            environment,
            current?.ToSummary(),
            held is not null && held.IsActive(now) ? ToView(held, now) : null,
            shown,
            page.Count > limit ? shown[^1].Id : null);
    }

    /// <summary>
    /// The commits of the default branch's head that the environment's deployed commit lacks (GitHub's
    /// compare), newest <see cref="MaxUndeployedCommits"/> with their combined status and check runs.
    /// </summary>
    /// <exception cref="GitHubRejectedException">GitHub refused (unknown repository, no access).</exception>
    public async Task<UndeployedCommits> UndeployedCommitsAsync(string repository, string environment, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repository);
        ArgumentException.ThrowIfNullOrWhiteSpace(environment);
        SummaryRow? current;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            current = await CurrentAsync(db, repository, environment, null, cancellationToken);
        }

        var repo = await gitHub.GetRepositoryAsync(repository, cancellationToken);
        if (current is null)
        {
            return new UndeployedCommits(repository, environment, repo.DefaultBranch, null, null, 0, null, []);
        }

        var comparison = await gitHub.CompareAsync(repository, current.Sha, repo.DefaultBranch, cancellationToken);
        if (comparison.Status is not ("ahead" or "diverged"))
        {
            // Identical or behind: the environment has everything the default branch has.
            return new UndeployedCommits(repository, environment, repo.DefaultBranch, current.Sha, comparison.Commits.LastOrDefault()?.Sha ?? current.Sha, 0, comparison.HtmlUrl, []);
        }

        var commits = new List<UndeployedCommit>();
        foreach (var commit in comparison.Commits.TakeLast(MaxUndeployedCommits))
        {
            var combined = gitHub.GetCombinedStatusAsync(repository, commit.Sha, cancellationToken);
            var runs = gitHub.ListCheckRunsAsync(repository, commit.Sha, cancellationToken);
            commits.Add(new UndeployedCommit(
                commit.Sha,
                commit.Message,
                commit.AuthorLogin ?? commit.AuthorName,
                commit.HtmlUrl,
                (await combined).State,
                (await combined).Statuses,
                await runs));
        }

        return new UndeployedCommits(repository, environment, repo.DefaultBranch, current.Sha, comparison.Commits.LastOrDefault()?.Sha, comparison.AheadBy, comparison.HtmlUrl, commits);
    }

    /// <summary>
    /// What is deployed: the latest successful deployment of the environment that ran a provider (a lock
    /// task succeeds without deploying anything); older than <paramref name="beforeId"/> when given.
    /// </summary>
    internal static Task<SummaryRow?> CurrentAsync(HeavenDbContext db, string repository, string environment, long? beforeId, CancellationToken cancellationToken)
    {
        var query = db.Deployments.AsNoTracking().Where(d => d.Repository == repository && d.Environment == environment && d.State == DeploymentState.Succeeded && d.Provider != null);
        if (beforeId is { } before)
        {
            query = query.Where(d => d.Id < before);
        }

        return query.OrderByDescending(d => d.Id).Select(SummaryRow.Projection).FirstOrDefaultAsync(cancellationToken);
    }

    internal static LockView ToView(EnvironmentLock held, DateTime now) =>
        new(held.Repository, held.Environment, held.LockedBy, held.Reason, Utc(held.LockedAt), Utc(held.ExpiresAt), held.IsActive(now));

    private static DeploymentSummary? Pick(Dictionary<long, DeploymentSummary> rows, long? id) =>
        id is { } known && rows.TryGetValue(known, out var row) ? row : null;

    internal static DateTimeOffset Utc(DateTime at) => new(DateTime.SpecifyKind(at, DateTimeKind.Utc));

    internal static DateTimeOffset? Utc(DateTime? at) => at is { } value ? Utc(value) : null;

    private sealed record EnvironmentIds(long? Latest = null, long? Current = null, long? Running = null, int Queued = 0);
}

/// <summary>
/// The columns a summary needs, read without tracking. The payload only when a row lacks what it
/// would tell (who asked, on rows recorded before that was kept; the provider asked for, before one
/// ran): lists and the dashboard otherwise neither read nor parse it.
/// </summary>
internal sealed class SummaryRow
{
    public static readonly Expression<Func<DeploymentRecord, SummaryRow>> Projection = d => new SummaryRow
    {
        Id = d.Id,
        GitHubDeploymentId = d.GitHubDeploymentId,
        Repository = d.Repository,
        Environment = d.Environment,
        Ref = d.Ref,
        Sha = d.Sha,
        Task = d.Task,
        Provider = d.Provider,
        State = d.State,
        ReceivedAt = d.ReceivedAt,
        StartedAt = d.StartedAt,
        FinishedAt = d.FinishedAt,
        StatusDescription = d.StatusDescription,
        PayloadJson = d.Deployer == null || d.Provider == null ? d.PayloadJson : null,
        CreatorLogin = d.CreatorLogin,
        Deployer = d.Deployer,
        GistUrl = d.GistUrl,
        CancelRequestedBy = d.CancelRequestedBy,
    };

    public long Id { get; init; }

    public long GitHubDeploymentId { get; init; }

    public string Repository { get; init; } = "";

    public string Environment { get; init; } = "";

    public string Ref { get; init; } = "";

    public string Sha { get; init; } = "";

    public string Task { get; init; } = "";

    public string? Provider { get; init; }

    public DeploymentState State { get; init; }

    public DateTime ReceivedAt { get; init; }

    public DateTime? StartedAt { get; init; }

    public DateTime? FinishedAt { get; init; }

    public string? StatusDescription { get; init; }

    public string? PayloadJson { get; init; }

    public string? CreatorLogin { get; init; }

    public string? Deployer { get; init; }

    public string? GistUrl { get; init; }

    public string? CancelRequestedBy { get; init; }

    public DeploymentSummary ToSummary()
    {
        var payload = PayloadJson is null ? null : DeploymentPayload.Parse(PayloadJson);
        return new DeploymentSummary(
            Id,
            GitHubDeploymentId,
            Repository,
            Environment,
            Ref,
            Sha,
            Task,
            Provider ?? payload?.Provider,
            DeploymentStates.Name(State),
            DeploymentQueries.Utc(ReceivedAt),
            DeploymentQueries.Utc(StartedAt),
            DeploymentQueries.Utc(FinishedAt),
            StatusDescription,
            Deployer ?? payload?.Deployer(CreatorLogin),
            GistUrl,
            CancelRequestedBy);
    }
}
