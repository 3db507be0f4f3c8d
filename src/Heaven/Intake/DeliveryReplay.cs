using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Intake;

/// <summary>How a redelivery went: the intake's answer, or why there was nothing to run again.</summary>
public sealed record RedeliveryOutcome(RedeliveryStatus Status, string Message, string? NewDeliveryId = null, DeliveryResult? Result = null, long? DeploymentId = null);

public enum RedeliveryStatus
{
    /// <summary>The intake took it and answered (<see cref="RedeliveryOutcome.Result"/>).</summary>
    Recorded,

    /// <summary>No delivery with that id is in the delivery log.</summary>
    NotFound,

    /// <summary>The delivery is logged but its body is not (received before bodies were kept).</summary>
    NoBody,

    /// <summary>The stored body no longer reads as its event (a rule tightened since it arrived).</summary>
    Unreadable,
}

/// <summary>
/// Runs a stored delivery through the intake again, as GitHub's "Redeliver" would, under a new
/// delivery id so it is not simply recognised as already received. The deduplication of deployments
/// still holds: a deployment already recorded is never run twice, while an event for notifications or
/// auto-deploy is recorded (and acted on) again. The body was verified when it arrived and has not
/// left Heaven's database since, so its signature is not checked a second time (a rotated secret
/// would otherwise make old deliveries impossible to repeat). The headers stored with it (User-Agent,
/// X-GitHub-Hook-ID, ...) go with it, so the redelivery shows the same sender as the original.
/// </summary>
public sealed class DeliveryReplay(IHeavenDatabase database, IDeliveryRecorder recorder, RepositoryAllowList allowList, TimeProvider time)
{
    public async Task<RedeliveryOutcome> RedeliverAsync(string deliveryId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deliveryId);
        string eventName;
        byte[]? body;
        string? headers;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            var stored = await db.Deliveries.AsNoTracking()
                .Where(d => d.DeliveryId == deliveryId)
                .Select(d => new { d.Event, d.Body, d.Headers })
                .SingleOrDefaultAsync(cancellationToken);
            if (stored is null)
            {
                return new RedeliveryOutcome(RedeliveryStatus.NotFound, $"There is no delivery {deliveryId} in the delivery log.");
            }

            (eventName, body, headers) = (stored.Event, stored.Body, stored.Headers);
        }

        if (body is null)
        {
            return new RedeliveryOutcome(RedeliveryStatus.NoBody, $"Delivery {deliveryId} was received before Heaven kept webhook bodies; redeliver it from GitHub's webhook settings instead.");
        }

        WebhookEvent parsed;
        try
        {
            parsed = WebhookEventReader.Read(eventName, body);
        }
        catch (MalformedPayloadException e)
        {
            return new RedeliveryOutcome(RedeliveryStatus.Unreadable, $"Delivery {deliveryId} cannot be used again: {e.Message}");
        }

        var newId = Guid.NewGuid().ToString();
        RecordedDelivery recorded;
        try
        {
            recorded = await recorder.RecordAsync(
                new IncomingDelivery(newId, parsed, allowList.Allows(parsed.Repository), time.GetUtcNow().UtcDateTime, body, deliveryId, StoredHeaders.Parse(headers)),
                cancellationToken);
        }
        catch (DeliveryNotRecordedException e)
        {
            throw new InvalidOperationException(e.Message);
        }

        return new RedeliveryOutcome(RedeliveryStatus.Recorded, recorded.Message, newId, recorded.Result, recorded.DeploymentId);
    }
}
