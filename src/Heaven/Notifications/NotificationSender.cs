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
    TimeProvider time,
    ILogger<NotificationSender> logger) : IWorkItemHandler
{
    public const string NotifyPrefix = "notify:";
    private const int BatchSize = 50;

    public string Name => "notifications";

    public IReadOnlyList<string> Kinds { get; } = [];

    public string KindPrefix => NotifyPrefix;

    public WorkItemOrder Order => WorkItemOrder.OnePerKind;

    public StatusDeliveryOptions Delivery => options.Delivery;

    // The intake wakes the consumer when it records an event, so a message goes out at once; the
    // poll finds events recorded by other nodes and retries that became due.
    public IReadOnlyList<string> WakeUpKinds { get; } = [WorkItemKinds.DeploymentStatusEvent];

    private readonly NotificationOptions options = notificationOptions.Value;
    private readonly Dictionary<string, INotifier> byKind = notifiers.ToDictionary(n => Kind(n), StringComparer.Ordinal);

    public static string Kind(INotifier notifier) => NotifyPrefix + notifier.Name;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Log.Active(logger, string.Join(", ", byKind.Values.Where(n => n.IsConfigured).Select(n => n.Name).DefaultIfEmpty("none")));
        history.ReportSettings();
        return Task.CompletedTask;
    }

    /// <summary>The fan-out of events into messages comes first in every round.</summary>
    public async Task<(int Worked, bool Deliver)> BeforeRoundAsync(CancellationToken cancellationToken) =>
        (await FanOutAsync(cancellationToken), true);

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

    public async Task<WorkItemOutcome> HandleAsync(ClaimedWorkItem item, CancellationToken cancellationToken)
    {
        if (!byKind.TryGetValue(item.Kind, out var notifier) || !notifier.IsConfigured)
        {
            // Settings changed since the event arrived: the service is off now, so nothing is sent.
            return new WorkItemOutcome.Failed($"{item.Kind[NotifyPrefix.Length..]} is not configured any more; the message was not sent.");
        }

        DeploymentNotification? message;
        try
        {
            message = DeploymentNotification.FromWebhook(item.PayloadJson);
        }
        catch (FormatException e)
        {
            return new WorkItemOutcome.Failed("The event could not be read: " + e.Message);
        }

        if (message is null)
        {
            return WorkItemOutcome.Done;
        }

        try
        {
            // Looked up when sending, not stored with the event: the outbox keeps the event exactly as
            // GitHub sent it, and the lookup never holds up the fan-out of other events.
            message = await history.AddHistoryAsync(message, cancellationToken);
            await SendWithinTimeoutAsync(notifier, message, cancellationToken);
        }
        catch (NotifierException e) when (e.Permanent)
        {
            Log.Rejected(logger, item.Id, notifier.Name, e.Message);
            return new WorkItemOutcome.Failed(e.Message);
        }
        catch (NotifierException e)
        {
            // The service's own Retry-After wins over a shorter backoff (Slack's rate limits).
            return new WorkItemOutcome.Retry(e.Message, e.RetryAfter);
        }

        Log.Delivered(logger, item.Id, notifier.Name, message.Repository, message.Environment, message.State, item.Attempt);
        return WorkItemOutcome.Done;
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

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Chat notifications go to: {Notifiers}")]
        public static partial void Active(ILogger logger, string notifiers);

        [LoggerMessage(Level = LogLevel.Information, Message = "Notified {Notifier} of the {State} status of {Repository} in {Environment} (work item {WorkItemId}, attempt {Attempt})")]
        public static partial void Delivered(ILogger logger, long workItemId, string notifier, string repository, string environment, string state, int attempt);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId}: {Notifier} refused the message; it will not be retried: {Error}")]
        public static partial void Rejected(ILogger logger, long workItemId, string notifier, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId} holds a deployment_status event that cannot be read: {Error}")]
        public static partial void Unreadable(ILogger logger, long workItemId, string error);
    }
}
