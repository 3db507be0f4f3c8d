namespace Heaven.Intake;

/// <summary>
/// One authenticated webhook delivery, as kept in the delivery log for operators. Deliveries that fail
/// the signature or are malformed are answered and logged, but never stored: an unauthenticated sender
/// must not be able to write to the database.
/// </summary>
public sealed class Delivery
{
    public long Id { get; set; }

    /// <summary>GitHub's <c>X-GitHub-Delivery</c> id; unique, so a redelivery is recognised.</summary>
    public required string DeliveryId { get; set; }

    public required string Event { get; set; }

    public string? Action { get; set; }

    public string? Repository { get; set; }

    public DeliveryResult Result { get; set; }

    /// <summary>What Heaven answered, in words.</summary>
    public required string Message { get; set; }

    public DateTime ReceivedAt { get; set; }

    /// <summary>The deployment this delivery created or repeated, if any.</summary>
    public long? DeploymentId { get; set; }

    /// <summary>
    /// The body as GitHub sent it (signature verified), so an operator can run it through the intake
    /// again; null for deliveries recorded before bodies were kept. Deleted with the row by housekeeping.
    /// </summary>
    public byte[]? Body { get; set; }

    /// <summary>
    /// The request's other headers as a JSON object (<see cref="StoredHeaders"/>: never signatures,
    /// credentials, cookies, secrets or tokens); null for deliveries recorded before headers were kept.
    /// </summary>
    public string? Headers { get; set; }

    /// <summary>When an operator redelivered an earlier delivery: that delivery's id.</summary>
    public string? RedeliveryOf { get; set; }
}

public enum DeliveryResult
{
    /// <summary>Stored for the component that acts on it.</summary>
    Accepted,

    /// <summary>A redelivery, or a second delivery of a deployment already recorded.</summary>
    Duplicate,

    /// <summary>An event type Heaven does not act on, or a repository outside the allow-list.</summary>
    Ignored,
}

/// <summary>A webhook GitHub has pinged, so operators can see which hooks point here.</summary>
internal sealed class WebhookHook
{
    public long HookId { get; set; }

    public string? Type { get; set; }

    /// <summary>The repository or organisation the hook belongs to, when the ping says.</summary>
    public string? Target { get; set; }

    public string? Events { get; set; }

    public DateTime FirstSeenAt { get; set; }

    public DateTime LastPingAt { get; set; }
}
