using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.GitHub;
using Heaven.Intake;
using Heaven.Model;
using Heaven.Repositories;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Reconciliation;

/// <summary>One decision of a pass: what was found on GitHub and what became of it.</summary>
public sealed record ReconciliationDecision(string Repository, long GitHubId, string Kind, DeliveryResult? Result, string Reason);

/// <summary>What one pass did; <see cref="Problems"/> holds the repositories GitHub could not be asked about, and why.</summary>
public sealed record ReconciliationReport(IReadOnlyList<ReconciliationDecision> Decisions, IReadOnlyList<string> Problems)
{
    /// <summary>Why the pass asked GitHub nothing at all (no token), when it did not.</summary>
    public string? NotAsked { get; init; }
}

/// <summary>
/// Takes in what GitHub has and its webhooks never brought, exactly as if the webhook had arrived:
/// through the intake's own recorder, under delivery ids made from GitHub's ids
/// (<see cref="ReconciledDelivery"/>), so the intake's deduplication makes a late webhook, a second
/// pass or a second node a duplicate and never a second run or message.
/// </summary>
/// <remarks>
/// For each repository Heaven knows (from deliveries, deployments and the <c>Repositories</c> section):
/// GitHub's deployments of the look-back; one Heaven never received, would run (the admission's
/// <see cref="DeploymentAdmission.NotOurs"/>) and nobody has posted a status for is taken in; for the
/// deployments Heaven knows, statuses no <c>deployment_status</c> webhook brought are taken in for the
/// notifiers. Every GitHub request is conditional (<c>If-None-Match</c> with the ETag of the last
/// answer, kept in memory): a repository where nothing happened costs 304s, which GitHub does not
/// count against the rate limit.
/// </remarks>
public sealed partial class Reconciler(
    IHeavenDatabase database,
    IGitHubRepositoryApi gitHub,
    IDeliveryRecorder recorder,
    DeploymentAdmission admission,
    RepositoryAllowList allowList,
    IOptions<ReconciliationOptions> options,
    IOptions<RepositoryOptions> repositories,
    IOptions<GitHubOptions> gitHubOptions,
    NodeIdentity node,
    TimeProvider time,
    ILogger<Reconciler> logger)
{
    /// <summary>Pages of deployments read a pass: a look-back holding more than 1,000 deployments is cut to its newest 1,000 (and logged).</summary>
    internal const int MaxListingPages = 10;

    /// <summary>Deliveries may be recorded a little after the status they report was created on GitHub's clock.</summary>
    private static readonly TimeSpan ClockMargin = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<string, Remembered> answers = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim onePass = new(1, 1);

    /// <summary>One pass over every repository Heaven knows ("reconcile now"); passes never overlap on a node.</summary>
    public async Task<ReconciliationReport> ReconcileAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(gitHubOptions.Value.Token))
        {
            return new ReconciliationReport([], []) { NotAsked = "GitHub:Token (or GITHUB_TOKEN) is not set, so Heaven cannot ask GitHub what its webhooks missed." };
        }

        await onePass.WaitAsync(cancellationToken);
        try
        {
            var decisions = new List<ReconciliationDecision>();
            var problems = new List<string>();
            foreach (var repository in await KnownRepositoriesAsync(cancellationToken))
            {
                if (!await TakeTurnAsync(repository, cancellationToken))
                {
                    continue;
                }

                try
                {
                    await ReconcileRepositoryAsync(repository, decisions, cancellationToken);
                }
                catch (Exception e) when (e is GitHubTransientException or GitHubRejectedException)
                {
                    // The next pass tries again; what is remembered was kept only for answers fully handled.
                    problems.Add(e.Message);
                    Log.Failed(logger, repository, e.Message);
                }
            }

            return new ReconciliationReport(decisions, problems);
        }
        finally
        {
            onePass.Release();
        }
    }

    private async Task<IReadOnlyList<string>> KnownRepositoriesAsync(CancellationToken cancellationToken)
    {
        List<string> seen;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            var deployed = await db.Deployments.Select(d => d.Repository).Distinct().ToListAsync(cancellationToken);
            var delivered = await db.Deliveries.Where(d => d.Repository != null).Select(d => d.Repository!).Distinct().ToListAsync(cancellationToken);
            seen = [.. deployed, .. delivered];
        }

        return seen
            .Concat(repositories.Value.Repositories.Select(r => r.Repository))
            .Where(IsRepositoryName)
            .DistinctBy(r => r.ToLowerInvariant())
            .Order(StringComparer.OrdinalIgnoreCase)
            .ToList();
    }

    /// <summary>
    /// Whether this node reconciles <paramref name="repository"/> now: the first node to move its turn
    /// row forward in an interval does; the others skip it until the next interval.
    /// </summary>
    private async Task<bool> TakeTurnAsync(string repository, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        // Half an interval: a node whose timer runs a little early still finds its own turn due.
        var due = now - (options.Value.IntervalSpan / 2);
        var key = repository.ToLowerInvariant();
        await using var db = await database.OpenAsync(cancellationToken);
        var taken = await db.ReconciliationTurns
            .Where(t => t.Repository == key && t.LastPassAt <= due)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.LastPassAt, now).SetProperty(t => t.Node, node.Id), cancellationToken);
        if (taken == 1)
        {
            return true;
        }

        if (await db.ReconciliationTurns.AnyAsync(t => t.Repository == key, cancellationToken))
        {
            Log.TurnTaken(logger, repository);
            return false;
        }

        db.ReconciliationTurns.Add(new ReconciliationTurn { Repository = key, LastPassAt = now, Node = node.Id });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException)
        {
            // Another node created the row first: its turn.
            return false;
        }
    }

    private async Task ReconcileRepositoryAsync(string repository, List<ReconciliationDecision> decisions, CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow() - options.Value.LookBackSpan;
        var (recent, keepPages) = await ListLookBackAsync(repository, since, cancellationToken);
        if (recent.Count == 0)
        {
            keepPages();
            return;
        }

        var about = await AskAsync($"repository {repository}", etag => gitHub.GetRepositoryIfChangedAsync(repository, etag, cancellationToken));
        about.Keep();
        var repositoryJson = about.Body as JsonObject ?? throw new GitHubTransientException($"Reading repository {repository}: GitHub's answer is not a repository.", null);
        // GitHub's spelling: the one its webhooks carry, and so the one Heaven's records use.
        var fullName = GitHubJson.Text(repositoryJson["full_name"]) ?? repository;

        var ids = recent.Select(d => Id(d["id"])).ToList();
        HashSet<long> known;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            known = [.. await db.Deployments
                .Where(d => d.Repository == fullName && ids.Contains(d.GitHubDeploymentId))
                .Select(d => d.GitHubDeploymentId)
                .ToListAsync(cancellationToken)];
        }

        foreach (var deployment in recent)
        {
            var id = Id(deployment["id"]);
            if (known.Contains(id))
            {
                await ReconcileStatusesAsync(fullName, deployment, repositoryJson, since, decisions, cancellationToken);
            }
            else
            {
                await ReconcileDeploymentAsync(fullName, deployment, repositoryJson, decisions, cancellationToken);
            }
        }

        keepPages();
    }

    /// <summary>
    /// GitHub's deployments of <paramref name="repository"/> created since <paramref name="since"/>,
    /// oldest first, read page by page (newest first, 100 a page) until a page ends before the look-back
    /// or is not full, at most <see cref="MaxListingPages"/>; and what keeps the pages' answers once
    /// they are handled. Each page is asked conditionally: in a quiet repository all are 304s.
    /// </summary>
    private async Task<(List<JsonObject> Recent, Action Keep)> ListLookBackAsync(string repository, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var recent = new List<JsonObject>();
        var pages = new List<Answer>();
        for (var page = 1; page <= MaxListingPages; page++)
        {
            var number = page;
            var listing = await AskAsync(
                $"deployments {repository} page {number}",
                etag => gitHub.GetDeploymentsIfChangedAsync(repository, number, etag, cancellationToken));
            pages.Add(listing);
            var listed = (listing.Body as JsonArray ?? []).OfType<JsonObject>().ToList();
            // Newest first: the look-back ends at the first older one.
            var inLookBack = listed.TakeWhile(d => GitHubJson.Time(d["created_at"]) is { } created && created >= since).ToList();
            recent.AddRange(inLookBack.Where(d => Id(d["id"]) > 0));
            if (inLookBack.Count < listed.Count || listed.Count < IGitHubRepositoryApi.DeploymentsPerPage)
            {
                break;
            }

            if (page == MaxListingPages)
            {
                Log.LookBackCut(logger, repository, MaxListingPages * IGitHubRepositoryApi.DeploymentsPerPage);
            }
        }

        // Oldest first, as they happened; a deployment moved to the next page while it was read is there twice.
        recent = recent.DistinctBy(d => Id(d["id"])).Reverse().ToList();
        return (recent, () => pages.ForEach(p => p.Keep()));
    }

    /// <summary>A deployment Heaven never received: taken in when Heaven would run it and nobody has reported on it.</summary>
    private async Task ReconcileDeploymentAsync(string repository, JsonObject deployment, JsonObject repositoryJson, List<ReconciliationDecision> decisions, CancellationToken cancellationToken)
    {
        var id = Id(deployment["id"]);
        var body = Encode(new JsonObject
        {
            ["action"] = "created",
            ["deployment"] = deployment.DeepClone(),
            ["repository"] = repositoryJson.DeepClone(),
            ["sender"] = deployment["creator"]?.DeepClone(),
        });
        WebhookEvent.Deployment parsed;
        try
        {
            parsed = (WebhookEvent.Deployment)WebhookEventReader.Read("deployment", body);
        }
        catch (MalformedPayloadException e)
        {
            Skip(decisions, repository, id, "deployment", $"not usable as a deployment: {e.Message}");
            return;
        }

        if (admission.NotOurs(AsRecord(parsed.Request)) is { } notOurs)
        {
            // Left alone without a request for its statuses: another deployment system owns it.
            Skip(decisions, repository, id, "deployment", $"{notOurs}; another deployment system may own it");
            return;
        }

        if (!allowList.Allows(repository))
        {
            Skip(decisions, repository, id, "deployment", $"{repository} is not in Webhooks:AllowedRepositories");
            return;
        }

        var statuses = await AskAsync($"statuses {repository} {id}", etag => gitHub.GetDeploymentStatusesIfChangedAsync(repository, id, etag, cancellationToken));
        statuses.Keep();
        if (statuses.Body is JsonArray { Count: > 0 } reported)
        {
            var latest = reported[0];
            Skip(decisions, repository, id, "deployment", $"it already has a status ({GitHubJson.Text(latest?["state"])} from {GitHubJson.Text(latest?["creator"]?["login"]) ?? "someone"}): some other system or person is handling it");
            return;
        }

        var recorded = await RecordAsync(new IncomingDelivery(ReconciledDelivery.ForDeployment(id), parsed, true, time.GetUtcNow().UtcDateTime, body, Reconciled: true), cancellationToken);
        decisions.Add(new ReconciliationDecision(repository, id, "deployment", recorded.Result, recorded.Message));
        Log.TookIn(logger, "deployment", id, repository, recorded.Message);
    }

    /// <summary>Statuses of a deployment Heaven knows that no <c>deployment_status</c> webhook brought: taken in for the notifiers, oldest first.</summary>
    private async Task ReconcileStatusesAsync(string repository, JsonObject deployment, JsonObject repositoryJson, DateTimeOffset since, List<ReconciliationDecision> decisions, CancellationToken cancellationToken)
    {
        var id = Id(deployment["id"]);
        var statuses = await AskAsync($"statuses {repository} {id}", etag => gitHub.GetDeploymentStatusesIfChangedAsync(repository, id, etag, cancellationToken));
        if (statuses.NotModified)
        {
            // Every status in this answer was looked at when it last changed.
            return;
        }

        var candidates = (statuses.Body as JsonArray ?? [])
            .OfType<JsonObject>()
            .Where(s => Id(s["id"]) > 0 && GitHubJson.Time(s["created_at"]) is { } created && created >= since)
            .Reverse()
            .ToList();
        if (candidates.Count > 0)
        {
            var received = await ReceivedStatusIdsAsync(repository, since, cancellationToken);
            foreach (var status in candidates.Where(s => !received.Contains(Id(s["id"]))))
            {
                var statusId = Id(status["id"]);
                var body = Encode(new JsonObject
                {
                    ["action"] = "created",
                    ["deployment_status"] = status.DeepClone(),
                    ["deployment"] = deployment.DeepClone(),
                    ["repository"] = repositoryJson.DeepClone(),
                    ["sender"] = status["creator"]?.DeepClone(),
                });
                WebhookEvent parsed;
                try
                {
                    parsed = WebhookEventReader.Read("deployment_status", body);
                }
                catch (MalformedPayloadException e)
                {
                    Skip(decisions, repository, statusId, "deployment_status", $"not usable as a deployment status: {e.Message}");
                    continue;
                }

                var recorded = await RecordAsync(
                    new IncomingDelivery(ReconciledDelivery.ForStatus(statusId), parsed, allowList.Allows(repository), time.GetUtcNow().UtcDateTime, body, Reconciled: true),
                    cancellationToken);
                decisions.Add(new ReconciliationDecision(repository, statusId, "deployment_status", recorded.Result, recorded.Message));
                Log.TookIn(logger, "deployment_status", statusId, repository, recorded.Message);
            }
        }

        statuses.Keep();
    }

    /// <summary>The ids of the statuses of <paramref name="repository"/> that reached Heaven, as webhooks or by reconciliation, since the look-back began.</summary>
    private async Task<HashSet<long>> ReceivedStatusIdsAsync(string repository, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var from = (since - ClockMargin).UtcDateTime;
        List<byte[]?> bodies;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            bodies = await db.Deliveries.AsNoTracking()
                .Where(d => d.Event == "deployment_status" && d.Repository == repository && d.ReceivedAt >= from)
                .Select(d => d.Body)
                .ToListAsync(cancellationToken);
        }

        var ids = new HashSet<long>();
        foreach (var body in bodies.OfType<byte[]>())
        {
            try
            {
                using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = WebhookEventReader.MaxDepth });
                if (document.RootElement.TryGetProperty("deployment_status", out var status)
                    && status.ValueKind == JsonValueKind.Object
                    && status.TryGetProperty("id", out var id)
                    && id.ValueKind == JsonValueKind.Number
                    && id.TryGetInt64(out var value))
                {
                    ids.Add(value);
                }
            }
            catch (JsonException)
            {
                // The intake verified and parsed it once; a body that no longer reads names no status.
            }
        }

        return ids;
    }

    private async Task<RecordedDelivery> RecordAsync(IncomingDelivery delivery, CancellationToken cancellationToken)
    {
        try
        {
            return await recorder.RecordAsync(delivery, cancellationToken);
        }
        catch (DeliveryNotRecordedException e)
        {
            // The database is away or Heaven is stopping: the next pass finds the same event again.
            throw new GitHubTransientException($"Recording delivery {delivery.DeliveryId}: {e.Message}", null, e);
        }
    }

    private void Skip(List<ReconciliationDecision> decisions, string repository, long id, string kind, string reason)
    {
        decisions.Add(new ReconciliationDecision(repository, id, kind, null, reason));
        Log.Skipped(logger, kind, id, repository, reason);
    }

    /// <summary>
    /// GitHub's answer for <paramref name="key"/>, asked with the ETag of the last answer. The new answer
    /// is remembered only when the caller <see cref="Answer.Keep">keeps</see> it, after handling it all,
    /// so an answer whose handling failed is asked for, and handled, again.
    /// </summary>
    private async Task<Answer> AskAsync(string key, Func<string?, Task<ConditionalJson>> ask)
    {
        answers.TryGetValue(key, out var last);
        var answer = await ask(last?.ETag);
        if (answer.NotModified && last is not null)
        {
            return new Answer(true, last.Body, () => { });
        }

        return new Answer(false, answer.Body, () =>
        {
            if (answer.ETag is { Length: > 0 } etag && answer.Body is not null)
            {
                answers[key] = new Remembered(etag, answer.Body);
            }
        });
    }

    private static DeploymentRecord AsRecord(DeploymentRequest request) => new()
    {
        GitHubDeploymentId = request.GitHubDeploymentId,
        Repository = request.Repository,
        CloneUrl = request.CloneUrl,
        Ref = request.Ref,
        Sha = request.Sha,
        Task = request.Task,
        Environment = request.Environment,
        App = request.App,
        ExclusivityKey = ExclusivityKey.KeyOf(request.Repository, request.App, request.Environment),
        PayloadJson = request.Payload.ToJson(),
        DeliveryId = ReconciledDelivery.ForDeployment(request.GitHubDeploymentId),
    };

    private static byte[] Encode(JsonObject body) => Encoding.UTF8.GetBytes(body.ToJsonString());

    private static long Id(JsonNode? node) => node is JsonValue value && value.TryGetValue<long>(out var id) ? id : 0;

    private static bool IsRepositoryName(string name)
    {
        var parts = name.Split('/');
        return parts.Length == 2 && parts.All(p => p.Length > 0 && p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'));
    }

    private sealed record Remembered(string ETag, JsonNode Body);

    private sealed record Answer(bool NotModified, JsonNode? Body, Action Keep);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Reconciliation took in {Kind} {GitHubId} of {Repository}: {Message}")]
        public static partial void TookIn(ILogger logger, string kind, long gitHubId, string repository, string message);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Reconciliation left {Kind} {GitHubId} of {Repository} alone: {Reason}")]
        public static partial void Skipped(ILogger logger, string kind, long gitHubId, string repository, string reason);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Another node reconciled {Repository} in this interval")]
        public static partial void TurnTaken(ILogger logger, string repository);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Repository} has more than {Read} deployments in Reconciliation:LookBack; reconciliation looked at the newest {Read} only (a shorter Reconciliation:Interval and LookBack cover them all)")]
        public static partial void LookBackCut(ILogger logger, string repository, int read);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciliation of {Repository} did not finish; the next pass tries again: {Error}")]
        public static partial void Failed(ILogger logger, string repository, string error);
    }
}
