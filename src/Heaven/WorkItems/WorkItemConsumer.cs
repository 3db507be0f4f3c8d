using Heaven.Configuration;
using Heaven.Storage;
using Heaven.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace Heaven.WorkItems;

/// <summary>
/// The one outbox consumer, run once per <see cref="IWorkItemHandler"/>: at start it hands back what a
/// killed earlier run of this node left leased; then, in rounds, it takes the handler's due items
/// oldest first (holding back those behind an earlier pending one of the same series), claims each
/// with a lease, lets the handler do it and records the outcome: done, failed, or retried with
/// back-off until the handler's give-up age. It runs when woken and on a short poll, which picks up
/// retries that became due and items other nodes recorded.
/// </summary>
/// <remarks>
/// The claim is a lease: NotBefore moves past the work's duration and Attempts grows by one, in one
/// conditional UPDATE, so of several nodes exactly one wins an item; Attempts doubles as the fencing
/// token for the outcome. A node that dies mid-item leaves the lease to expire, and the item is done
/// again then (a duplicate status or message beats a lost one).
/// </remarks>
internal sealed partial class WorkItemConsumer(
    IWorkItemHandler handler,
    IHeavenDatabase database,
    WorkItemSignal signal,
    NodeIdentity node,
    TimeProvider time,
    ILogger<WorkItemConsumer> logger) : BackgroundService
{
    private const int BatchSize = 50;

    private StatusDeliveryOptions Delivery => handler.Delivery;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        WorkItemLoop.RunAsync(
            async cancellationToken =>
            {
                await handler.StartAsync(cancellationToken);
                await WorkItemLease.ReleaseLeftoverLeasesAsync(database, node.Id, node.LeaseOwner, time, logger, cancellationToken);
            },
            RoundAsync,
            IdleAsync,
            e => Log.LoopFailed(logger, handler.Name, e),
            stoppingToken);

    /// <summary>The last wait ran out without a wake-up: nothing was announced for a whole poll interval.</summary>
    private bool quiet;

    /// <summary>
    /// Waits for a wake-up or the next poll. A node that hears the others' announcements and was not woken
    /// for a whole poll interval asks when its next pending item becomes due (a retry, a lease running out)
    /// and sleeps until then, or <see cref="StatusDeliveryOptions.QuietPoll"/>, instead of asking for due
    /// work every second: idle nodes then cost the database (and their own CPU) next to nothing. Without
    /// the announcements (one node, or the <c>LISTEN</c> connection down) it polls every
    /// <see cref="StatusDeliveryOptions.PollInterval"/>.
    /// </summary>
    private async Task IdleAsync(CancellationToken cancellationToken)
    {
        var poll = Delivery.PollInterval;
        var longest = Delivery.QuietPoll;
        TimeSpan? wait = null;
        if (quiet && signal.HearsOtherNodes && longest > poll)
        {
            var nextDue = await NextDueAsync(cancellationToken);
            var untilDue = nextDue is { } due ? due - time.GetUtcNow().UtcDateTime : longest;
            wait = untilDue < poll ? poll : untilDue > longest ? longest : untilDue;
        }

        quiet = !await signal.WaitAsync(handler.WakeUpKinds, poll, cancellationToken, wait);
    }

    /// <summary>
    /// When the earliest pending item this consumer handles (or is woken for) becomes due, of those not
    /// held back behind an earlier one of their series (they follow it); null when there is none.
    /// </summary>
    private async Task<DateTime?> NextDueAsync(CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var pending = Pending(db, handler.Kinds.Concat(handler.WakeUpKinds).Distinct(StringComparer.Ordinal).ToList());
        return await HeadsOfSeries(pending, pending).MinAsync(w => (DateTime?)w.NotBefore, cancellationToken);
    }

    /// <summary>The pending items of <paramref name="kinds"/> and of the handler's prefix.</summary>
    private IQueryable<WorkItem> Pending(HeavenDbContext db, List<string> kinds)
    {
        var prefix = handler.KindPrefix;
        var pending = db.WorkItems.Where(w => w.State == WorkItemState.Pending);
        return prefix is null
            ? pending.Where(w => kinds.Contains(w.Kind))
            : pending.Where(w => kinds.Contains(w.Kind) || w.Kind.StartsWith(prefix));
    }

    /// <summary>
    /// Of <paramref name="items"/>, those no earlier item of <paramref name="pending"/> of the same series
    /// (see <see cref="IWorkItemHandler.Order"/>) holds back: one waiting for a retry, or being done by another node.
    /// </summary>
    private IQueryable<WorkItem> HeadsOfSeries(IQueryable<WorkItem> pending, IQueryable<WorkItem> items) =>
        handler.Order switch
        {
            WorkItemOrder.OnePerDeployment => items.Where(w => !pending.Any(earlier => earlier.DeploymentId == w.DeploymentId && earlier.Id < w.Id)),
            WorkItemOrder.OnePerKind => items.Where(w => !pending.Any(earlier => earlier.Kind == w.Kind && earlier.Id < w.Id)),
            _ => items,
        };

    /// <summary>One round; returns how much was done (items tried, plus the handler's own work).</summary>
    private async Task<int> RoundAsync(CancellationToken cancellationToken)
    {
        var (worked, deliver) = await handler.BeforeRoundAsync(cancellationToken);
        if (!deliver)
        {
            return worked;
        }

        foreach (var item in await DueAsync(cancellationToken))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await WorkItemLease.TryClaimAsync(database, item.Id, item.Attempts, Delivery.Lease, node.LeaseOwner, time, cancellationToken))
            {
                worked++;
                await HandleAsync(item, item.Attempts + 1, cancellationToken);
            }
        }

        return worked;
    }

    private async Task<List<Candidate>> DueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await database.OpenAsync(cancellationToken);
        var pending = Pending(db, handler.Kinds.ToList());
        // Head of line: an earlier item of the same series still pending holds the later ones back.
        var due = HeadsOfSeries(pending, pending.Where(w => w.NotBefore <= now));
        return await due
            .OrderBy(w => w.Id)
            .Take(BatchSize)
            .Select(w => new Candidate(w.Id, w.Kind, w.Attempts, w.CreatedAt, w.Repository, w.DeliveryId, w.DeploymentId, w.PayloadJson, w.TraceParent))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Does the item this node just claimed; <paramref name="attempt"/> is the claim's fencing token.</summary>
    private async Task HandleAsync(Candidate item, int attempt, CancellationToken cancellationToken)
    {
        // Each attempt is a span in the trace of whatever recorded the item (a deployment's, for its statuses).
        using var span = HeavenTracing.StartChildOf(item.Kind == WorkItemKinds.PostDeploymentStatus ? HeavenTracing.StatusSpan : HeavenTracing.OutboxSpan, item.TraceParent);
        span?.SetTag(HeavenTracing.OutboxKindAttribute, item.Kind)
            .SetTag("heaven.outbox.attempt", attempt)
            .SetTag(HeavenTracing.DeploymentIdAttribute, item.DeploymentId)
            .SetTag(HeavenTracing.DeliveryIdAttribute, item.DeliveryId)
            .SetTag(HeavenTracing.RepositoryAttribute, item.Repository);
        WorkItemOutcome outcome;
        try
        {
            outcome = await handler.HandleAsync(
                new ClaimedWorkItem(item.Id, item.Kind, attempt, item.CreatedAt, item.Repository, item.DeliveryId, item.DeploymentId, item.PayloadJson),
                cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down mid-item: hand it back at once instead of leaving it leased, so the next
            // run (or another node) does it without waiting for the lease to run out.
            if (!await WorkItemLease.ReleaseAsync(database, item.Id, attempt, time))
            {
                Log.LeaseLost(logger, handler.Name, item.Id);
            }

            throw;
        }
        catch (Exception e)
        {
            Log.Unexpected(logger, handler.Name, item.Id, e);
            outcome = new WorkItemOutcome.Retry($"{e.GetType().Name}: {e.Message}");
        }

        if (outcome is not WorkItemOutcome.Finished)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, outcome.GetType().Name);
        }

        switch (outcome)
        {
            case WorkItemOutcome.Retry retry:
                var delay = Delivery.RetryDelay(attempt, retry.RetryAfter);
                var retried = await WorkItemLease.RetryOrGiveUpAsync(database, item.Id, attempt, item.CreatedAt, Delivery.GiveUpAfter, delay, retry.Error, time);
                if (retried.GaveUp)
                {
                    Log.GaveUp(logger, handler.Name, item.Id, item.DeploymentId, attempt, retry.Error);
                }
                else
                {
                    Log.Retrying(logger, handler.Name, item.Id, item.DeploymentId, attempt, delay, retry.Error);
                }

                if (!retried.Recorded)
                {
                    Log.LeaseLost(logger, handler.Name, item.Id);
                }

                break;
            case WorkItemOutcome.Failed failed:
                await FinishAsync(item, attempt, WorkItemState.Failed, failed.Reason);
                break;
            default:
                await FinishAsync(item, attempt, WorkItemState.Done, null);
                break;
        }
    }

    /// <summary>Records an outcome unless another node took the item over meanwhile (see <see cref="WorkItemLease.WriteAsync"/>).</summary>
    private async Task FinishAsync(Candidate item, int attempt, WorkItemState state, string? error)
    {
        if (!await WorkItemLease.FinishAsync(database, item.Id, attempt, state, error, time))
        {
            Log.LeaseLost(logger, handler.Name, item.Id);
        }
    }

    private sealed record Candidate(long Id, string Kind, int Attempts, DateTime CreatedAt, string? Repository, string? DeliveryId, long? DeploymentId, string PayloadJson, string? TraceParent);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox ({Handler}): work item {WorkItemId} (Heaven deployment {DeploymentId}), attempt {Attempt} failed, retrying in {Delay}: {Error}")]
        public static partial void Retrying(ILogger logger, string handler, long workItemId, long? deploymentId, int attempt, TimeSpan delay, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Outbox ({Handler}): work item {WorkItemId} (Heaven deployment {DeploymentId}), gave up after {Attempt} attempts: {Error}")]
        public static partial void GaveUp(ILogger logger, string handler, long workItemId, long? deploymentId, int attempt, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Outbox ({Handler}): unexpected failure on work item {WorkItemId}; it will be retried")]
        public static partial void Unexpected(ILogger logger, string handler, long workItemId, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox ({Handler}): work item {WorkItemId} was taken over by another node while this one worked on it; its outcome stands")]
        public static partial void LeaseLost(ILogger logger, string handler, long workItemId);

        [LoggerMessage(Level = LogLevel.Error, Message = "Outbox ({Handler}): the consumer failed; it tries again shortly")]
        public static partial void LoopFailed(ILogger logger, string handler, Exception exception);
    }
}
