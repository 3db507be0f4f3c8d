using Heaven.Intake;

namespace Heaven.Operations;

/// <summary>
/// What running a stored delivery through the intake again came to, without the intake's own types.
/// <see cref="Status"/>: <c>recorded</c>, <c>not-found</c>, <c>no-body</c> or <c>unreadable</c>;
/// <see cref="Result"/> is the intake's answer (<c>accepted</c>, <c>duplicate</c>, <c>ignored</c>) when recorded.
/// </summary>
public sealed record RedeliveryReport(string Status, string Message, string? NewDeliveryId, string? Result, long? DeploymentId)
{
    public bool Recorded => Status == "recorded";
}

/// <summary>The redelivery told in words, for the pages.</summary>
public static class DeliveryInspection
{
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
