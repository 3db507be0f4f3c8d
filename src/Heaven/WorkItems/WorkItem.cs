namespace Heaven.WorkItems;

/// <summary>
/// Side work that must survive a restart and be retried with backoff (the outbox): an event recorded
/// for notifications or auto-deploy, later a status GitHub refused for a moment.
/// </summary>
public sealed class WorkItem
{
    public long Id { get; set; }

    public required string Kind { get; set; }

    public string? Repository { get; set; }

    public string? DeliveryId { get; set; }

    /// <summary>The Heaven deployment the work belongs to; such items are done in order, one at a time.</summary>
    public long? DeploymentId { get; set; }

    /// <summary>The input of the work, as JSON (for an event: the webhook payload as GitHub sent it).</summary>
    public required string PayloadJson { get; set; }

    public WorkItemState State { get; set; } = WorkItemState.Pending;

    public int Attempts { get; set; }

    /// <summary>The node run (<c>node-id/run</c>) holding the item's lease while it is being worked on; null otherwise.</summary>
    public string? LeaseOwner { get; set; }

    public DateTime NotBefore { get; set; }

    public DateTime CreatedAt { get; set; }

    public string? LastError { get; set; }

    public DateTime? CompletedAt { get; set; }

    /// <summary>
    /// The W3C <c>traceparent</c> of the span that recorded the item (the intake, a deployment's run):
    /// the span that does the work continues that trace. Null when nothing was traced. By default the span current where the item is made; a row read back
    /// gets its stored value.
    /// </summary>
    public string? TraceParent { get; set; } = Heaven.Telemetry.HeavenTracing.CurrentTraceParent();
}

public enum WorkItemState
{
    Pending,
    Done,
    Failed,
}

/// <summary>The kinds of work item, one per consumer.</summary>
public static class WorkItemKinds
{
    /// <summary>A <c>deployment_status</c> event, for the notifiers.</summary>
    public const string DeploymentStatusEvent = "deployment_status";

    /// <summary>A commit <c>status</c> event, for auto-deploy.</summary>
    public const string CommitStatusEvent = "status";

    /// <summary>A <c>check_suite</c> event, for auto-deploy.</summary>
    public const string CheckSuiteEvent = "check_suite";

    /// <summary>A deployment status for Heaven to post to GitHub (retried until GitHub takes it).</summary>
    public const string PostDeploymentStatus = "post_deployment_status";
}
