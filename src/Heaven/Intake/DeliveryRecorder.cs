using System.Threading.Channels;
using Heaven.Deployments;
using Heaven.Model;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Intake;

/// <summary>
/// An authenticated, parsed delivery on its way to the database, with its body as sent (kept so it can
/// be redelivered), the request headers that are kept (<see cref="StoredHeaders"/>) and, for an
/// operator's redelivery, the delivery it repeats.
/// </summary>
/// <param name="TraceParent">The intake span's context: the deployment or work item it creates continues that trace (written by another thread).</param>
/// <remarks>
/// <paramref name="Reconciled"/>: not a webhook, but an event reconciliation found on GitHub that no
/// webhook brought (<see cref="ReconciledDelivery"/>); its decision says so in the delivery log.
/// </remarks>
public sealed record IncomingDelivery(string DeliveryId, WebhookEvent Event, bool RepositoryAllowed, DateTime ReceivedAt, byte[]? Body = null, string? RedeliveryOf = null, IReadOnlyList<KeyValuePair<string, string>>? Headers = null, bool Reconciled = false, string? TraceParent = null);

/// <summary>What was durably recorded for a delivery.</summary>
public sealed record RecordedDelivery(DeliveryResult Result, string Message, long? DeploymentId);

/// <summary>Records deliveries durably; the answer to GitHub waits for the commit and for nothing else.</summary>
public interface IDeliveryRecorder
{
    Task<RecordedDelivery> RecordAsync(IncomingDelivery delivery, CancellationToken cancellationToken);
}

/// <summary>Thrown when a delivery cannot be recorded now (shutting down, database down): answered 503 so GitHub shows it failed.</summary>
internal sealed class DeliveryNotRecordedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Group commit: concurrent deliveries are written by one loop, many to a transaction, so each fsync
/// (SQLite's synchronous=FULL, PostgreSQL's commit) is shared by every request that arrived meanwhile.
/// Deduplication happens inside the same transaction; on PostgreSQL another node may win a race on a
/// unique key, which is retried one delivery at a time and then seen as a duplicate.
/// </summary>
internal sealed partial class DeliveryRecorder(
    IHeavenDatabase database,
    IDeploymentSignal dispatcher,
    WorkItemSignal workItems,
    DeploymentAdmission admission,
    ILogger<DeliveryRecorder> logger) : BackgroundService, IDeliveryRecorder
{
    private const int MaxBatch = 128;
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });

    public Task<RecordedDelivery> RecordAsync(IncomingDelivery delivery, CancellationToken cancellationToken)
    {
        var pending = new Pending(delivery, new TaskCompletionSource<RecordedDelivery>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!queue.Writer.TryWrite(pending))
        {
            throw new DeliveryNotRecordedException("Heaven is shutting down and cannot record this delivery; redeliver it from GitHub's webhook settings.");
        }

        // The caller's cancellation (the client went away) does not cancel the write: once queued,
        // the delivery is recorded either way, and a redelivery is then seen as a duplicate.
        return pending.Completion.Task;
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        queue.Writer.TryComplete();
        return base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(MaxBatch);
        // Not bound to stoppingToken: on shutdown the queue is completed and what is in it still gets written.
        while (await queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }

            await WriteAsync(batch);
            batch.Clear();
        }
    }

    private async Task WriteAsync(List<Pending> batch)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            Complete(batch, await WriteTransactionAsync(batch, timeout.Token));
            return;
        }
        catch (Exception e) when (IsConflict(e))
        {
            // Another node committed the same delivery or deployment meanwhile (a unique key, on
            // PostgreSQL), or its batch and this one inserted the same deployments in another order
            // (a deadlock, which PostgreSQL ends by aborting one). Written again one at a time, each
            // delivery reads that row and is answered "duplicate"; a batch of one, the usual case when
            // two nodes race, is no exception.
            Log.BatchConflict(logger, batch.Count, e.GetType().Name);
        }
        catch (Exception e)
        {
            Fail(batch, e);
            return;
        }

        foreach (var pending in batch)
        {
            await WriteAloneAsync(pending, timeout.Token);
        }
    }

    /// <summary>
    /// Attempts at writing one delivery alone before a conflict counts as a failure. Each conflict means
    /// another writer committed a row this delivery needs (its delivery id, its deployment) after this
    /// attempt read; the next attempt reads it. A deployment GitHub sent to several nodes at once under
    /// several delivery ids can see one conflict per other writer (three of four in the two-node test),
    /// so this bound only guards against a loop, never against ordinary contention.
    /// </summary>
    private const int AttemptsAlone = 10;

    private async Task WriteAloneAsync(Pending pending, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Complete([pending], await WriteTransactionAsync([pending], cancellationToken));
                return;
            }
            catch (Exception e) when (attempt < AttemptsAlone && IsConflict(e))
            {
                // Another node committed the same delivery or deployment in between; the next
                // attempt reads it and answers "duplicate".
            }
            catch (Exception e)
            {
                Fail([pending], e);
                return;
            }
        }
    }

    /// <summary>
    /// A write that lost to another node's: a unique key it committed first, or a deadlock between the
    /// two (EF Core reports it as a transient failure wrapping the update's exception, since a
    /// transaction begun here is not retried for us).
    /// </summary>
    private static bool IsConflict(Exception e) => e is DbUpdateException || e.InnerException is DbUpdateException;

    private void Fail(IReadOnlyList<Pending> batch, Exception e)
    {
        Log.WriteFailed(logger, batch.Count, e);
        foreach (var pending in batch)
        {
            pending.Completion.TrySetException(new DeliveryNotRecordedException("Heaven could not store this delivery (database unavailable); GitHub shows it as failed and it can be redelivered.", e));
        }
    }

    private static void Complete(IReadOnlyList<Pending> batch, IReadOnlyList<RecordedDelivery> results)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Completion.TrySetResult(results[i]);
        }
    }

    private async Task<IReadOnlyList<RecordedDelivery>> WriteTransactionAsync(IReadOnlyList<Pending> batch, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        // A deployment_status webhook is also looked up under the delivery id reconciliation gives the
        // same status, so a webhook that comes after reconciliation took its status in notifies nobody again.
        var deliveryIds = batch.Select(p => p.Delivery.DeliveryId)
            .Concat(batch.Select(p => ReconciledStatusOf(p.Delivery)).OfType<string>())
            .Distinct()
            .ToList();
        var known = await db.Deliveries
            .Where(d => deliveryIds.Contains(d.DeliveryId))
            .Select(d => new { d.DeliveryId, d.DeploymentId })
            .ToDictionaryAsync(d => d.DeliveryId, d => (d.DeploymentId, NewDeployment: (DeploymentRecord?)null), cancellationToken);

        var requested = batch.Select(p => p.Delivery.Event).OfType<WebhookEvent.Deployment>().Select(d => d.Request).ToList();
        var repositories = requested.Select(r => r.Repository).Distinct().ToList();
        var gitHubIds = requested.Select(r => r.GitHubDeploymentId).Distinct().ToList();
        var deployments = requested.Count == 0
            ? []
            : (await db.Deployments
                .Where(d => repositories.Contains(d.Repository) && gitHubIds.Contains(d.GitHubDeploymentId))
                .Select(d => new { d.Repository, d.GitHubDeploymentId, d.Id })
                .ToListAsync(cancellationToken))
              .ToDictionary(d => (d.Repository, d.GitHubDeploymentId), d => d.Id);
        var created = new Dictionary<(string, long), DeploymentRecord>();

        var outcomes = new Outcome[batch.Count];
        var recorded = new List<(IncomingDelivery Incoming, Outcome Outcome)>();
        for (var i = 0; i < batch.Count; i++)
        {
            var incoming = batch[i].Delivery;
            if (known.TryGetValue(incoming.DeliveryId, out var earlier))
            {
                outcomes[i] = new Outcome(DeliveryResult.Duplicate, $"Delivery {incoming.DeliveryId} was already received; nothing was done again.", earlier.DeploymentId, earlier.NewDeployment);
                continue;
            }

            outcomes[i] = AlreadyReconciled(incoming, known.ContainsKey) ?? await DecideAsync(db, incoming, deployments, created, admission, cancellationToken);
            // A deployment created in this batch has no id until it is saved: keep the record itself.
            known[incoming.DeliveryId] = (outcomes[i].DeploymentId, outcomes[i].NewDeployment);
            recorded.Add((incoming, outcomes[i]));
        }

        // Deployments (and work items, hooks) first, so the delivery rows are inserted once, already
        // pointing at the ids the database gave them; both saves share the transaction and so a
        // single commit.
        await db.SaveChangesAsync(cancellationToken);
        foreach (var (incoming, outcome) in recorded)
        {
            db.Deliveries.Add(new Delivery
            {
                DeliveryId = incoming.DeliveryId,
                Event = incoming.Event.Name,
                Action = incoming.Event.Action,
                Repository = incoming.Event.Repository,
                Result = outcome.Result,
                Message = Clamp(Said(incoming, outcome), 512),
                ReceivedAt = incoming.ReceivedAt,
                DeploymentId = outcome.FinalDeploymentId,
                Body = incoming.Body,
                Headers = StoredHeaders.ToJson(incoming.Headers),
                RedeliveryOf = incoming.RedeliveryOf,
            });
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        if (created.Count > 0)
        {
            // Dispatch is immediate on the node that accepted the webhook.
            dispatcher.Notify();
        }

        // So are notifications and the other consumers of recorded events.
        foreach (var kind in recorded.Select(r => r.Outcome.WorkItemKind).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            workItems.Wake(kind);
        }

        return outcomes.Select((o, i) => new RecordedDelivery(o.Result, Said(batch[i].Delivery, o), o.FinalDeploymentId)).ToList();
    }

    /// <summary>What the delivery log and the caller are told: a reconciled decision says where it came from.</summary>
    private static string Said(IncomingDelivery incoming, Outcome outcome) =>
        incoming.Reconciled ? ReconciledDelivery.Prefix + outcome.FinalMessage : outcome.FinalMessage;

    /// <summary>For a deployment_status webhook: the delivery id reconciliation would have given its status.</summary>
    private static string? ReconciledStatusOf(IncomingDelivery incoming) =>
        incoming is { Reconciled: false, RedeliveryOf: null, Event: WebhookEvent.ForWorkItem { DeploymentStatusId: { } statusId } }
            ? ReconciledDelivery.ForStatus(statusId)
            : null;

    /// <summary>
    /// A duplicate when reconciliation already took this webhook's status in. An operator's redelivery
    /// is meant to notify again and is not held back.
    /// </summary>
    private static Outcome? AlreadyReconciled(IncomingDelivery incoming, Func<string, bool> isKnown) =>
        ReconciledStatusOf(incoming) is { } reconciled && isKnown(reconciled)
            ? new Outcome(
                DeliveryResult.Duplicate,
                $"Deployment status {((WebhookEvent.ForWorkItem)incoming.Event).DeploymentStatusId} of {incoming.Event.Repository} was already taken in by reconciliation (delivery {reconciled}); nobody is notified again.",
                null,
                null)
            : null;

    private static async Task<Outcome> DecideAsync(
        HeavenDbContext db,
        IncomingDelivery incoming,
        Dictionary<(string, long), long> existing,
        Dictionary<(string, long), DeploymentRecord> created,
        DeploymentAdmission admission,
        CancellationToken cancellationToken)
    {
        var @event = incoming.Event;
        if (!incoming.RepositoryAllowed)
        {
            return new Outcome(DeliveryResult.Ignored, $"{@event.Repository} is not in Webhooks:AllowedRepositories; the {@event.Name} event was ignored.", null, null);
        }

        switch (@event)
        {
            case WebhookEvent.Deployment { Request: var request }:
            {
                var key = (request.Repository, request.GitHubDeploymentId);
                if (existing.TryGetValue(key, out var earlierId))
                {
                    return new Outcome(DeliveryResult.Duplicate, $"GitHub deployment {request.GitHubDeploymentId} of {request.Repository} was already received as Heaven deployment {earlierId}; nothing was done again.", earlierId, null);
                }

                if (created.TryGetValue(key, out var sibling))
                {
                    return new Outcome(DeliveryResult.Duplicate, $"GitHub deployment {request.GitHubDeploymentId} of {request.Repository} was already received; nothing was done again.", null, sibling);
                }

                var record = new DeploymentRecord
                {
                    GitHubDeploymentId = request.GitHubDeploymentId,
                    Repository = request.Repository,
                    CloneUrl = request.CloneUrl,
                    Ref = request.Ref,
                    Sha = request.Sha,
                    Task = request.Task,
                    Environment = request.Environment,
                    App = request.App,
                    ExclusivityKey = Model.ExclusivityKey.KeyOf(request.Repository, request.App, request.Environment),
                    PayloadJson = request.Payload.ToJson(),
                    Description = request.Description,
                    CreatorLogin = request.CreatorLogin,
                    Deployer = request.Payload.Deployer(request.CreatorLogin),
                    DeliveryId = incoming.DeliveryId,
                    ReceivedAt = incoming.ReceivedAt,
                    StateChangedAt = incoming.ReceivedAt,
                    State = DeploymentState.Queued,
                    TraceParent = incoming.TraceParent,
                };
                db.Deployments.Add(record);
                created[key] = record;
                // Recorded all the same (the delivery log and the decision point at it), but the
                // answer says at once that Heaven will not run it, rather than "queued".
                return admission.NotOurs(record) is { } notOurs
                    ? new Outcome(DeliveryResult.Ignored, notOurs, null, record)
                    : new Outcome(DeliveryResult.Accepted, "", null, record);
            }

            case WebhookEvent.ForWorkItem item:
                db.WorkItems.Add(new WorkItem
                {
                    Kind = item.Kind,
                    Repository = item.Repository,
                    DeliveryId = incoming.DeliveryId,
                    PayloadJson = item.PayloadJson,
                    CreatedAt = incoming.ReceivedAt,
                    NotBefore = incoming.ReceivedAt,
                    TraceParent = incoming.TraceParent,
                });
                return new Outcome(DeliveryResult.Accepted, $"The {item.Name} event was recorded for {(item.Kind == WorkItemKinds.DeploymentStatusEvent ? "notifications" : "auto-deploy")}.", null, null)
                {
                    WorkItemKind = item.Kind,
                };

            case WebhookEvent.Ping ping:
                if (ping.HookId is { } hookId)
                {
                    var hook = await db.Hooks.FindAsync([hookId], cancellationToken);
                    if (hook is null)
                    {
                        hook = new WebhookHook { HookId = hookId, FirstSeenAt = incoming.ReceivedAt };
                        db.Hooks.Add(hook);
                    }

                    hook.LastPingAt = incoming.ReceivedAt;
                    hook.Type = ping.HookType ?? hook.Type;
                    hook.Target = ping.Target ?? hook.Target;
                    hook.Events = ping.Events ?? hook.Events;
                }

                return new Outcome(DeliveryResult.Accepted, ping.HookId is { } id ? $"pong: hook {id} is recorded as seen." : "pong.", null, null);

            default:
                return new Outcome(DeliveryResult.Ignored, $"Heaven does not act on '{@event.Name}' events; ignored.", null, null);
        }
    }

    private static string Clamp(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    private sealed record Pending(IncomingDelivery Delivery, TaskCompletionSource<RecordedDelivery> Completion);

    /// <summary>The decision for one delivery; a new deployment's id is known only after the first save.</summary>
    private sealed record Outcome(DeliveryResult Result, string Message, long? DeploymentId, DeploymentRecord? NewDeployment)
    {
        /// <summary>The kind of the work item this delivery added, if it added one.</summary>
        public string? WorkItemKind { get; init; }

        public long? FinalDeploymentId => NewDeployment?.Id ?? DeploymentId;

        public string FinalMessage => (NewDeployment, Result) switch
        {
            ({ } d, DeliveryResult.Accepted) => $"GitHub deployment {d.GitHubDeploymentId} of {d.Repository} to {d.Environment} is queued as Heaven deployment {d.Id}.",
            ({ } d, DeliveryResult.Ignored) => $"GitHub deployment {d.GitHubDeploymentId} of {d.Repository} to {d.Environment} is ignored: {Message}, so another deployment system may own it. Heaven posts no status for it (recorded as Heaven deployment {d.Id}).",
            _ => Message,
        };
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "{Count} deliveries met a concurrent write ({Error}); writing them again one at a time")]
        public static partial void BatchConflict(ILogger logger, int count, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Could not record {Count} deliveries")]
        public static partial void WriteFailed(ILogger logger, int count, Exception exception);
    }
}
