using System.Globalization;
using Heaven.GitHub;
using Heaven.Locks;
using Heaven.Model;
using Heaven.Repositories;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.AutoDeploy;

/// <summary>
/// Decides, for one commit event and each environment a repository auto-deploys to, whether to create
/// a deployment, and records every decision with its reason. The conditions, cheapest first: the
/// commit heads the default branch; the environment is not locked (whoever holds the lock); every
/// required context is green; the commit was not deployed there yet; it is ahead of the environment's
/// last successful deployment. Then the deployment is created through the API, and GitHub's webhook
/// brings it back like any other.
/// </summary>
/// <remarks>
/// Transient GitHub failures propagate (<see cref="GitHubTransientException"/>): the caller retries the
/// event later, and the evaluation starts over; what was already deployed is then found on GitHub.
/// </remarks>
public sealed partial class AutoDeployEvaluator(
    IHeavenDatabase database,
    IGitHubRepositoryApi gitHub,
    EnvironmentLocks locks,
    TimeProvider time,
    ILogger<AutoDeployEvaluator> logger)
{
    public const string Description = "Heaven auto deploy triggered by a commit status change";

    /// <summary>How many of an environment's newest deployments are searched for its last successful one.</summary>
    public const int HistoryDepth = 30;

    /// <summary>
    /// A claim older than this whose deployment never got recorded belongs to an evaluation that died
    /// mid-request (longer than any GitHub request may take).
    /// </summary>
    private static readonly TimeSpan StaleClaim = TimeSpan.FromMinutes(10);

    /// <summary>Evaluates <paramref name="commit"/> for every environment in <paramref name="settings"/>; returns the recorded decisions.</summary>
    public async Task<IReadOnlyList<AutoDeployDecision>> EvaluateAsync(CommitEvent commit, AutoDeploySettings settings, string? deliveryId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        ArgumentNullException.ThrowIfNull(settings);
        var decisions = new List<AutoDeployDecision>();
        var evaluation = new Evaluation(commit, settings, deliveryId);

        // A status that is not green cannot have made the commit deployable: no need to ask GitHub.
        if (commit.OnDefaultBranch && commit.StatusState is { } state && state != "success")
        {
            if (!settings.RequiresAllContexts && !settings.Contexts.Contains(commit.StatusContext!, StringComparer.Ordinal))
            {
                // Not a context this repository waits for: nothing changed for auto-deploy.
                return decisions;
            }
        }

        foreach (var environment in settings.Environments)
        {
            cancellationToken.ThrowIfCancellationRequested();
            decisions.Add(await DecideAsync(evaluation, environment, cancellationToken));
        }

        return decisions;
    }

    private async Task<AutoDeployDecision> DecideAsync(Evaluation evaluation, string environment, CancellationToken cancellationToken)
    {
        var commit = evaluation.Commit;
        if (!commit.OnDefaultBranch)
        {
            return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped, $"{commit.ShortSha} is not the head of the default branch ({commit.DefaultBranch})", cancellationToken);
        }

        if (await locks.ActiveAsync(commit.Repository, environment, cancellationToken) is { } held)
        {
            var reason = string.IsNullOrWhiteSpace(held.Reason) ? "" : $": {held.Reason}";
            return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped, $"{environment} is locked by {held.LockedBy}{reason}", cancellationToken);
        }

        if (commit.StatusState is { } state && state != "success")
        {
            return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped, $"context {commit.StatusContext} is {state}", cancellationToken);
        }

        try
        {
            if (await evaluation.ContextProblemAsync(gitHub, cancellationToken) is { } notGreen)
            {
                return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped, notGreen, cancellationToken);
            }

            var existing = await gitHub.ListDeploymentsAsync(commit.Repository, environment, commit.Sha, 1, cancellationToken);
            if (existing.Count > 0)
            {
                return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped, $"{commit.ShortSha} was already deployed to {environment} (deployment {existing[0].Id})", cancellationToken);
            }

            var history = await gitHub.ListDeploymentsAsync(commit.Repository, environment, null, HistoryDepth, cancellationToken);
            var lastSuccessful = await LastSuccessfulAsync(commit.Repository, history, cancellationToken);
            if (lastSuccessful is null)
            {
                return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped,
                    $"{environment} has no successful deployment to compare with; deploy it once by hand", cancellationToken);
            }

            var deployed = Short(lastSuccessful.Sha);
            var comparison = await gitHub.CompareAsync(commit.Repository, lastSuccessful.Sha, commit.Sha, cancellationToken);
            switch (comparison.Status)
            {
                case "ahead":
                    break;
                case "identical":
                    return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped, $"{commit.ShortSha} is what {environment} runs already", cancellationToken);
                case "behind":
                    return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped, $"{commit.ShortSha} is behind {environment}'s {deployed} by {Commits(comparison.BehindBy)}", cancellationToken);
                default:
                    return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped, $"{commit.ShortSha} has {comparison.Status} from {environment}'s {deployed}; only a commit ahead of it deploys itself", cancellationToken);
            }

            // The newest deployment's payload carries how the environment is deployed (provider, app
            // name, chat room); a failed one still tells that, so it is taken even when it failed.
            var payload = DeploymentPayload.Parse(history[0].PayloadJson).ToJsonObject();
            payload["auto_deploy"] = true;
            var request = new NewDeploymentRequest(
                Ref: commit.Sha,
                Task: "deploy",
                Environment: environment,
                PayloadJson: payload.ToJsonString(),
                Description: Description,
                AutoMerge: false,
                RequiredContexts: evaluation.Settings.RequiresAllContexts ? null : evaluation.Settings.Contexts);
            return await CreateAsync(evaluation, environment, request, $"{commit.ShortSha} is {Commits(comparison.AheadBy)} ahead of {deployed}", cancellationToken);
        }
        catch (GitHubRejectedException e)
        {
            // Retrying will not help (no token, no access, repository gone): say so once.
            return await RecordAsync(evaluation, environment, AutoDeployOutcome.Failed, e.Message, cancellationToken);
        }
    }

    private async Task<AutoDeployDecision> CreateAsync(Evaluation evaluation, string environment, NewDeploymentRequest request, string why, CancellationToken cancellationToken)
    {
        var commit = evaluation.Commit;
        var key = AutoDeployDecision.KeyOf(commit.Repository, environment, commit.Sha);
        await ReleaseStaleClaimAsync(key, cancellationToken);
        var claim = NewDecision(evaluation, environment, AutoDeployOutcome.Deploying, $"creating the deployment: {why}");
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            db.AutoDeployDecisions.Add(claim);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException e) when (DatabaseErrors.IsUniqueViolation(e))
            {
                return await RecordAsync(evaluation, environment, AutoDeployOutcome.Skipped, $"{commit.ShortSha} is being deployed to {environment} by another evaluation", cancellationToken);
            }
        }

        GitHubDeployment created;
        try
        {
            created = await gitHub.CreateDeploymentAsync(commit.Repository, request, cancellationToken);
        }
        catch (GitHubRejectedException e)
        {
            await FinishClaimAsync(claim, AutoDeployOutcome.Failed, $"GitHub refused to create the deployment: {e.Message}", null);
            return claim;
        }
        catch (Exception e)
        {
            // Unknown whether GitHub created it; the retry looks it up before creating anything.
            await FinishClaimAsync(claim, AutoDeployOutcome.Failed, $"interrupted while creating the deployment ({e.Message}); the event is evaluated again", null);
            throw;
        }

        await FinishClaimAsync(claim, AutoDeployOutcome.Deployed, $"created deployment {created.Id}: {why}", created.Id);
        return claim;
    }

    /// <summary>A claim left by an evaluation that died mid-request no longer blocks the commit.</summary>
    private async Task ReleaseStaleClaimAsync(string key, CancellationToken cancellationToken)
    {
        var before = time.GetUtcNow().UtcDateTime - StaleClaim;
        await using var db = await database.OpenAsync(cancellationToken);
        await db.AutoDeployDecisions
            .Where(d => d.DeployKey == key && d.Outcome == AutoDeployOutcome.Deploying && d.DecidedAt < before)
            .ExecuteUpdateAsync(set => set
                .SetProperty(d => d.Outcome, AutoDeployOutcome.Failed)
                .SetProperty(d => d.Reason, "interrupted before GitHub answered; evaluated again"), cancellationToken);
    }

    /// <remarks>Not tied to the caller's token: GitHub has answered, and forgetting that would deploy twice.</remarks>
    private async Task FinishClaimAsync(AutoDeployDecision claim, AutoDeployOutcome outcome, string reason, long? gitHubDeploymentId)
    {
        claim.Outcome = outcome;
        claim.Reason = Clamp(reason);
        claim.GitHubDeploymentId = gitHubDeploymentId;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var db = await database.OpenAsync(timeout.Token);
        await db.AutoDeployDecisions
            .Where(d => d.Id == claim.Id)
            .ExecuteUpdateAsync(set => set
                .SetProperty(d => d.Outcome, outcome)
                .SetProperty(d => d.Reason, claim.Reason)
                .SetProperty(d => d.GitHubDeploymentId, gitHubDeploymentId), timeout.Token);
        Log.Decided(logger, claim.Repository, claim.ShortSha, claim.Environment, claim.Summary, claim.Trigger);
    }

    /// <summary>The newest of <paramref name="history"/> (newest first) that ever reported success.</summary>
    private async Task<GitHubDeployment?> LastSuccessfulAsync(string repository, IReadOnlyList<GitHubDeployment> history, CancellationToken cancellationToken)
    {
        foreach (var deployment in history)
        {
            // A later success elsewhere marks it inactive, so any success among its statuses counts.
            var statuses = await gitHub.ListDeploymentStatusesAsync(repository, deployment.Id, cancellationToken);
            if (statuses.Any(s => s.State == "success"))
            {
                return deployment;
            }
        }

        return null;
    }

    private async Task<AutoDeployDecision> RecordAsync(Evaluation evaluation, string environment, AutoDeployOutcome outcome, string reason, CancellationToken cancellationToken)
    {
        var decision = NewDecision(evaluation, environment, outcome, reason);
        await using var db = await database.OpenAsync(cancellationToken);
        db.AutoDeployDecisions.Add(decision);
        await db.SaveChangesAsync(cancellationToken);
        Log.Decided(logger, decision.Repository, decision.ShortSha, environment, decision.Summary, decision.Trigger);
        return decision;
    }

    private AutoDeployDecision NewDecision(Evaluation evaluation, string environment, AutoDeployOutcome outcome, string reason) => new()
    {
        Repository = evaluation.Commit.Repository,
        Sha = evaluation.Commit.Sha,
        Environment = environment,
        Outcome = outcome,
        Reason = Clamp(reason),
        Trigger = evaluation.Commit.Trigger.Length > 256 ? evaluation.Commit.Trigger[..256] : evaluation.Commit.Trigger,
        DeliveryId = evaluation.DeliveryId,
        DecidedAt = time.GetUtcNow().UtcDateTime,
        DeployKey = AutoDeployDecision.KeyOf(evaluation.Commit.Repository, environment, evaluation.Commit.Sha),
    };

    private static string Clamp(string reason) => reason.Length <= 1024 ? reason : reason[..1023] + "…";

    private static string Short(string sha) => Heaven.Model.CommitSha.Abbreviated(sha);

    private static string Commits(int count) => string.Create(CultureInfo.InvariantCulture, $"{count} commit{(count == 1 ? "" : "s")}");

    /// <summary>One event's evaluation; the commit's statuses and check runs are read once for all environments.</summary>
    private sealed class Evaluation(CommitEvent commit, AutoDeploySettings settings, string? deliveryId)
    {
        private bool contextsRead;
        private string? contextProblem;

        public CommitEvent Commit { get; } = commit;

        public AutoDeploySettings Settings { get; } = settings;

        public string? DeliveryId { get; } = deliveryId;

        public async Task<string?> ContextProblemAsync(IGitHubRepositoryApi gitHub, CancellationToken cancellationToken)
        {
            if (!contextsRead)
            {
                var combined = await gitHub.GetCombinedStatusAsync(Commit.Repository, Commit.Sha, cancellationToken);
                var runs = await gitHub.ListCheckRunsAsync(Commit.Repository, Commit.Sha, cancellationToken);
                contextProblem = RequiredContexts.Problem(Settings, Commit.ShortSha, combined, runs);
                contextsRead = true;
            }

            return contextProblem;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Auto-deploy of {Repository} {Sha} to {Environment}: {Decision} (on {Trigger})")]
        public static partial void Decided(ILogger logger, string repository, string sha, string environment, string decision, string trigger);
    }
}
