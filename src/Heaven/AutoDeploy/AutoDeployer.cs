using Heaven.GitHub;
using Heaven.Providers;
using Heaven.Repositories;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.AutoDeploy;

/// <summary>
/// Works through the recorded <c>status</c> and <c>check_suite</c> events, oldest first, one at a time
/// per node: each is claimed with a lease (<see cref="WorkItemLease"/>), evaluated for the repository's
/// auto-deploy environments, and retried with backoff while GitHub cannot answer. Repositories without
/// <c>AutoDeploy</c> settings cost one read of the settings: their events are closed at once.
/// </summary>
internal sealed partial class AutoDeployer(
    IHeavenDatabase database,
    AutoDeployEvaluator evaluator,
    IOptions<RepositoryOptions> repositories,
    IOptions<AutoDeployOptions> autoDeployOptions,
    WorkItemSignal signal,
    Heaven.Configuration.NodeIdentity node,
    TimeProvider time,
    ILogger<AutoDeployer> logger) : BackgroundService
{
    private const int BatchSize = 20;

    private static readonly string[] Kinds = [WorkItemKinds.CommitStatusEvent, WorkItemKinds.CheckSuiteEvent];

    private readonly StatusDeliveryOptions delivery = autoDeployOptions.Value.Delivery;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var configured = repositories.Value.Repositories.Where(r => r.AutoDeploy is not null).Select(r => $"{r.Repository} → {string.Join(", ", r.AutoDeploy!.Environments)}").ToList();
        Log.Active(logger, configured.Count == 0 ? "none" : string.Join("; ", configured));
        return WorkItemLoop.RunAsync(
            cancellationToken => WorkItemLease.ReleaseLeftoverLeasesAsync(database, node.Id, node.LeaseOwner, time, logger, cancellationToken),
            RoundAsync,
            // Woken by the intake the moment an event is recorded; the poll finds what other nodes
            // recorded and retries that became due.
            cancellationToken => signal.WaitAsync(Kinds, delivery.PollInterval, cancellationToken),
            e => Log.LoopFailed(logger, e),
            stoppingToken);
    }

    private async Task<int> RoundAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        List<Candidate> due;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            due = await db.WorkItems
                .Where(w => Kinds.Contains(w.Kind) && w.State == WorkItemState.Pending && w.NotBefore <= now)
                .OrderBy(w => w.Id)
                .Take(BatchSize)
                .Select(w => new Candidate(w.Id, w.Kind, w.Attempts, w.CreatedAt, w.DeliveryId, w.PayloadJson))
                .ToListAsync(cancellationToken);
        }

        var attempted = 0;
        foreach (var item in due)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await WorkItemLease.TryClaimAsync(database, item.Id, item.Attempts, delivery.Lease, node.LeaseOwner, time, cancellationToken))
            {
                attempted++;
                await ProcessAsync(item, cancellationToken);
            }
        }

        return attempted;
    }

    private async Task ProcessAsync(Candidate item, CancellationToken cancellationToken)
    {
        var attempt = item.Attempts + 1;
        CommitEvent? commit;
        try
        {
            commit = CommitEvent.From(item.Kind, item.PayloadJson);
        }
        catch (FormatException e)
        {
            Log.Unreadable(logger, item.Id, e.Message);
            await FinishAsync(item, attempt, WorkItemState.Failed, "The event could not be read: " + e.Message);
            return;
        }

        var settings = commit is null ? null : repositories.Value.For(commit.Repository)?.AutoDeploy;
        if (commit is null || settings is null)
        {
            await FinishAsync(item, attempt, WorkItemState.Done, null);
            return;
        }

        try
        {
            await evaluator.EvaluateAsync(commit, settings, item.DeliveryId, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down mid-evaluation: hand the event back at once rather than leave it leased.
            await WorkItemLease.ReleaseAsync(database, item.Id, attempt, time);
            throw;
        }
        catch (Exception e)
        {
            await RetryLaterAsync(item, attempt, e);
            return;
        }

        await FinishAsync(item, attempt, WorkItemState.Done, null);
    }

    private async Task RetryLaterAsync(Candidate item, int attempt, Exception e)
    {
        var error = e is GitHubTransientException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        if (e is not GitHubTransientException)
        {
            Log.Unexpected(logger, item.Id, e);
        }

        var delay = delivery.RetryDelay(attempt, (e as GitHubTransientException)?.RetryAfter);
        var outcome = await WorkItemLease.RetryOrGiveUpAsync(database, item.Id, attempt, item.CreatedAt, delivery.GiveUpAfter, delay, error, time);
        if (outcome.GaveUp)
        {
            Log.GaveUp(logger, item.Id, attempt, error);
        }
        else
        {
            Log.Retrying(logger, item.Id, attempt, delay, error);
        }

        if (!outcome.Recorded)
        {
            Log.LeaseLost(logger, item.Id);
        }
    }

    private async Task FinishAsync(Candidate item, int attempt, WorkItemState state, string? error)
    {
        if (!await WorkItemLease.FinishAsync(database, item.Id, attempt, state, error, time))
        {
            Log.LeaseLost(logger, item.Id);
        }
    }

    private sealed record Candidate(long Id, string Kind, int Attempts, DateTime CreatedAt, string? DeliveryId, string PayloadJson);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Auto-deploy is on for: {Repositories}")]
        public static partial void Active(ILogger logger, string repositories);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Work item {WorkItemId}: auto-deploy evaluation failed on attempt {Attempt}, retrying in {Delay}: {Error}")]
        public static partial void Retrying(ILogger logger, long workItemId, int attempt, TimeSpan delay, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId}: gave up evaluating auto-deploy after {Attempt} attempts: {Error}")]
        public static partial void GaveUp(ILogger logger, long workItemId, int attempt, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId} holds a commit event that cannot be read: {Error}")]
        public static partial void Unreadable(ILogger logger, long workItemId, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId}: unexpected failure while evaluating auto-deploy; it will be retried")]
        public static partial void Unexpected(ILogger logger, long workItemId, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Work item {WorkItemId} was taken over by another node while this one evaluated it; its outcome stands")]
        public static partial void LeaseLost(ILogger logger, long workItemId);

        [LoggerMessage(Level = LogLevel.Error, Message = "The auto-deployer failed; it tries again shortly")]
        public static partial void LoopFailed(ILogger logger, Exception exception);
    }
}
