using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>
/// Turns recorded <c>deployment_status</c> events into chat messages, through the outbox in two steps.
/// Fan-out: each pending event becomes one work item per configured notifier (kind
/// <c>notify:&lt;name&gt;</c>), in the same transaction that completes the event, so a failing Slack
/// is retried on its own and never re-sends Teams. Delivery: each notifier's items are claimed with a
/// lease (<see cref="WorkItemLease"/>), sent, and retried with backoff; oldest first and one at a time
/// per notifier, so "started" never arrives after "deployed".
/// </summary>
internal sealed partial class NotificationSender(
    IHeavenDatabase database,
    IEnumerable<INotifier> notifiers,
    DeploymentHistory history,
    IOptions<NotificationOptions> notificationOptions,
    WorkItemSignal signal,
    Heaven.Configuration.NodeIdentity node,
    TimeProvider time,
    ILogger<NotificationSender> logger) : BackgroundService
{
    public const string KindPrefix = "notify:";
    private const int BatchSize = 50;

    private readonly NotificationOptions options = notificationOptions.Value;
    private readonly Dictionary<string, INotifier> byKind = notifiers.ToDictionary(n => Kind(n), StringComparer.Ordinal);

    public static string Kind(INotifier notifier) => KindPrefix + notifier.Name;

    // Everything stays pending through a failed round; one delivered message may make the next of its
    // notifier due. The intake wakes the loop when it records an event, so a message goes out at once;
    // the poll finds events recorded by other nodes and retries that became due.
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.Active(logger, string.Join(", ", byKind.Values.Where(n => n.IsConfigured).Select(n => n.Name).DefaultIfEmpty("none")));
        history.ReportSettings();
        return WorkItemLoop.RunAsync(
            cancellationToken => WorkItemLease.ReleaseLeftoverLeasesAsync(database, node.Id, node.LeaseOwner, time, logger, cancellationToken),
            async cancellationToken => await FanOutAsync(cancellationToken) + await DeliverDueAsync(cancellationToken),
            cancellationToken => signal.WaitAsync(WorkItemKinds.DeploymentStatusEvent, options.Delivery.PollInterval, cancellationToken),
            e => Log.LoopFailed(logger, e),
            stoppingToken);
    }

    /// <summary>Splits due events into one item per configured notifier; returns how many events it handled.</summary>
    private async Task<int> FanOutAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        List<WorkItem> events;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            events = await db.WorkItems.AsNoTracking()
                .Where(w => w.Kind == WorkItemKinds.DeploymentStatusEvent && w.State == WorkItemState.Pending && w.NotBefore <= now)
                .OrderBy(w => w.Id)
                .Take(BatchSize)
                .ToListAsync(cancellationToken);
        }

        var active = byKind.Values.Where(n => n.IsConfigured).ToList();
        foreach (var item in events)
        {
            DeploymentNotification? message = null;
            string? problem = null;
            try
            {
                message = DeploymentNotification.FromWebhook(item.PayloadJson);
            }
            catch (FormatException e)
            {
                problem = "The event could not be read; nobody was notified: " + e.Message;
                Log.Unreadable(logger, item.Id, e.Message);
            }

            await using var db = await database.OpenAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            // Conditional, so of two nodes fanning out the same event only one creates the messages.
            var taken = await db.WorkItems
                .Where(w => w.Id == item.Id && w.State == WorkItemState.Pending && w.Attempts == item.Attempts)
                .ExecuteUpdateAsync(set => set
                    .SetProperty(w => w.State, problem is null ? WorkItemState.Done : WorkItemState.Failed)
                    .SetProperty(w => w.Attempts, item.Attempts + 1)
                    .SetProperty(w => w.CompletedAt, now)
                    .SetProperty(w => w.LastError, problem), cancellationToken);
            if (taken != 1)
            {
                continue;
            }

            if (message is not null)
            {
                foreach (var notifier in active)
                {
                    db.WorkItems.Add(new WorkItem
                    {
                        Kind = Kind(notifier),
                        Repository = item.Repository,
                        DeliveryId = item.DeliveryId,
                        DeploymentId = item.DeploymentId,
                        // The event itself, not a rendered text: the message is formatted when sent, by
                        // the notifier's current code and settings.
                        PayloadJson = item.PayloadJson,
                        CreatedAt = now,
                        NotBefore = now,
                    });
                }
            }

            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        return events.Count;
    }

    /// <summary>Sends what is due; returns how many items it tried.</summary>
    private async Task<int> DeliverDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        List<Candidate> due;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            var pending = db.WorkItems.Where(w => w.Kind.StartsWith(KindPrefix) && w.State == WorkItemState.Pending);
            due = await pending
                .Where(w => w.NotBefore <= now)
                // Head of line per notifier: an earlier message to the same service still pending
                // (waiting for a retry, or being sent by another node) holds the later ones back.
                .Where(w => !pending.Any(earlier => earlier.Kind == w.Kind && earlier.Id < w.Id))
                .OrderBy(w => w.Id)
                .Take(BatchSize)
                .Select(w => new Candidate(w.Id, w.Kind, w.Attempts, w.CreatedAt, w.PayloadJson))
                .ToListAsync(cancellationToken);
        }

        var attempted = 0;
        foreach (var item in due)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await WorkItemLease.TryClaimAsync(database, item.Id, item.Attempts, options.Delivery.Lease, node.LeaseOwner, time, cancellationToken))
            {
                attempted++;
                await SendAsync(item, cancellationToken);
            }
        }

        return attempted;
    }

    private async Task SendAsync(Candidate item, CancellationToken cancellationToken)
    {
        var attempt = item.Attempts + 1;
        if (!byKind.TryGetValue(item.Kind, out var notifier) || !notifier.IsConfigured)
        {
            // Settings changed since the event arrived: the service is off now, so nothing is sent.
            await FinishAsync(item, attempt, WorkItemState.Failed, $"{item.Kind[KindPrefix.Length..]} is not configured any more; the message was not sent.");
            return;
        }

        DeploymentNotification? message;
        try
        {
            message = DeploymentNotification.FromWebhook(item.PayloadJson);
        }
        catch (FormatException e)
        {
            await FinishAsync(item, attempt, WorkItemState.Failed, "The event could not be read: " + e.Message);
            return;
        }

        if (message is null)
        {
            await FinishAsync(item, attempt, WorkItemState.Done, null);
            return;
        }

        try
        {
            // Looked up when sending, not stored with the event: the outbox keeps the event exactly as
            // GitHub sent it, and the lookup never holds up the fan-out of other events.
            message = await history.AddHistoryAsync(message, cancellationToken);
            await SendWithinTimeoutAsync(notifier, message, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down mid-send: hand the item back at once rather than leave it leased.
            await WorkItemLease.ReleaseAsync(database, item.Id, attempt, time);
            throw;
        }
        catch (NotifierException e) when (e.Permanent)
        {
            Log.Rejected(logger, item.Id, notifier.Name, e.Message);
            await FinishAsync(item, attempt, WorkItemState.Failed, e.Message);
            return;
        }
        catch (Exception e)
        {
            if (e is not NotifierException)
            {
                Log.Unexpected(logger, item.Id, notifier.Name, e);
            }

            await RetryLaterAsync(item, attempt, notifier.Name, e is NotifierException ? e.Message : $"{e.GetType().Name}: {e.Message}", (e as NotifierException)?.RetryAfter);
            return;
        }

        Log.Delivered(logger, item.Id, notifier.Name, message.Repository, message.Environment, message.State, attempt);
        await FinishAsync(item, attempt, WorkItemState.Done, null);
    }

    /// <summary>
    /// One send takes at most one request timeout, however many requests it makes (Campfire looks its
    /// room up first): with the history lookup's own timeout, the lease (longer than twice that) covers it.
    /// </summary>
    private async Task SendWithinTimeoutAsync(INotifier notifier, DeploymentNotification message, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.RequestTimeout, time);
        using var sending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await notifier.SendAsync(message, sending.Token);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NotifierException($"{notifier.Name} did not answer within {options.RequestTimeout}.", permanent: false, e);
        }
    }

    private async Task RetryLaterAsync(Candidate item, int attempt, string notifier, string error, TimeSpan? retryAfter)
    {
        // The service's own Retry-After wins over a shorter backoff (Slack's rate limits).
        var delay = options.Delivery.RetryDelay(attempt, retryAfter);
        var outcome = await WorkItemLease.RetryOrGiveUpAsync(database, item.Id, attempt, item.CreatedAt, options.Delivery.GiveUpAfter, delay, error, time);
        if (outcome.GaveUp)
        {
            Log.GaveUp(logger, item.Id, notifier, attempt, error);
        }
        else
        {
            Log.Retrying(logger, item.Id, notifier, attempt, delay, error);
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

    private sealed record Candidate(long Id, string Kind, int Attempts, DateTime CreatedAt, string PayloadJson);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Chat notifications go to: {Notifiers}")]
        public static partial void Active(ILogger logger, string notifiers);

        [LoggerMessage(Level = LogLevel.Information, Message = "Notified {Notifier} of the {State} status of {Repository} in {Environment} (work item {WorkItemId}, attempt {Attempt})")]
        public static partial void Delivered(ILogger logger, long workItemId, string notifier, string repository, string environment, string state, int attempt);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Work item {WorkItemId}: notifying {Notifier} failed on attempt {Attempt}, retrying in {Delay}: {Error}")]
        public static partial void Retrying(ILogger logger, long workItemId, string notifier, int attempt, TimeSpan delay, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId}: {Notifier} refused the message; it will not be retried: {Error}")]
        public static partial void Rejected(ILogger logger, long workItemId, string notifier, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId}: gave up notifying {Notifier} after {Attempt} attempts: {Error}")]
        public static partial void GaveUp(ILogger logger, long workItemId, string notifier, int attempt, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId} holds a deployment_status event that cannot be read: {Error}")]
        public static partial void Unreadable(ILogger logger, long workItemId, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId}: unexpected failure while notifying {Notifier}; it will be retried")]
        public static partial void Unexpected(ILogger logger, long workItemId, string notifier, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Work item {WorkItemId} was taken over by another node while this one was sending it; its outcome stands")]
        public static partial void LeaseLost(ILogger logger, long workItemId);

        [LoggerMessage(Level = LogLevel.Error, Message = "The notification sender failed; it tries again shortly")]
        public static partial void LoopFailed(ILogger logger, Exception exception);
    }
}
