using Heaven.Intake;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Operations;

/// <summary>One stored delivery with its body (null when it was received before bodies were kept).</summary>
public sealed record DeliveryDetail(DeliverySummary Delivery, byte[]? Body);

/// <summary>
/// What running a stored delivery through the intake again came to, without the intake's own types.
/// <see cref="Status"/>: <c>recorded</c>, <c>not-found</c>, <c>no-body</c> or <c>unreadable</c>;
/// <see cref="Result"/> is the intake's answer (<c>accepted</c>, <c>duplicate</c>, <c>ignored</c>) when recorded.
/// </summary>
public sealed record RedeliveryReport(string Status, string Message, string? NewDeliveryId, string? Result, long? DeploymentId)
{
    public bool Recorded => Status == "recorded";
}

/// <summary>The delivery log's single-delivery view and the redelivery, for the pages and the API.</summary>
public static class DeliveryInspection
{
    /// <summary>The delivery with GitHub's delivery id <paramref name="deliveryId"/>, or null.</summary>
    public static async Task<DeliveryDetail?> DeliveryAsync(this ActivityQueries queries, IHeavenDatabase database, string deliveryId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queries);
        await using var db = await database.OpenAsync(cancellationToken);
        var d = await db.Deliveries.AsNoTracking().SingleOrDefaultAsync(d => d.DeliveryId == deliveryId, cancellationToken);
        if (d is null)
        {
            return null;
        }

        var summary = new DeliverySummary(d.Id, d.DeliveryId, d.Event, d.Action, d.Repository, d.Result.ToString().ToLowerInvariant(), d.Message, DeploymentQueries.Utc(d.ReceivedAt), d.DeploymentId, d.Body is not null, d.RedeliveryOf);
        return new DeliveryDetail(summary, d.Body);
    }

    /// <summary><see cref="DeploymentActions.RedeliverAsync"/>, told in words.</summary>
    public static async Task<RedeliveryReport> RedeliverReportAsync(this DeploymentActions actions, string deliveryId, CancellationToken cancellationToken)
    {
        var outcome = await actions.RedeliverAsync(deliveryId, cancellationToken);
        var status = outcome.Status switch
        {
            RedeliveryStatus.Recorded => "recorded",
            RedeliveryStatus.NotFound => "not-found",
            RedeliveryStatus.NoBody => "no-body",
            _ => "unreadable",
        };
        return new RedeliveryReport(status, outcome.Message, outcome.NewDeliveryId, outcome.Result?.ToString().ToLowerInvariant(), outcome.DeploymentId);
    }
}
