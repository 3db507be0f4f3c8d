using System.Diagnostics;

namespace Heaven.Telemetry;

/// <summary>
/// Heaven's spans. A deployment's work crosses the request, the queue, the worker and the outbox,
/// possibly on several nodes, so the trace context (W3C <c>traceparent</c>) is stored with the
/// deployment row and with each outbox item, and the later spans are started as its children.
/// </summary>
public static class HeavenTracing
{
    public const string SourceName = "Heaven";

    /// <summary>Span and attribute names, as exporters show them.</summary>
    public const string IntakeSpan = "heaven.intake";
    public const string DeploymentSpan = "heaven.deployment";
    public const string QueueWaitSpan = "heaven.queue_wait";
    public const string CheckoutSpan = "heaven.checkout";
    public const string ProviderSpan = "heaven.provider";
    public const string StatusSpan = "heaven.status";
    public const string OutboxSpan = "heaven.outbox";

    public const string DeliveryIdAttribute = "github.delivery_id";
    public const string EventAttribute = "github.event";
    public const string GitHubDeploymentIdAttribute = "github.deployment_id";
    public const string DeploymentIdAttribute = "heaven.deployment_id";
    public const string RepositoryAttribute = "heaven.repository";
    public const string EnvironmentAttribute = "heaven.environment";
    public const string ProviderAttribute = "heaven.provider";
    public const string StateAttribute = "heaven.state";
    public const string OutboxKindAttribute = "heaven.outbox.kind";

    public static ActivitySource Source { get; } = new(SourceName);

    /// <summary>The current span's context as a <c>traceparent</c> value to store, or null outside a recorded span.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C, Recorded: true } current ? current.Id : null;

    /// <summary>
    /// Starts a span as the child of a stored <c>traceparent</c> (a new trace when there is none or it
    /// does not read), or returns null when nobody listens.
    /// </summary>
    public static Activity? StartChildOf(string name, string? traceParent, ActivityKind kind = ActivityKind.Internal, DateTimeOffset startTime = default)
    {
        var parent = traceParent is not null && ActivityContext.TryParse(traceParent, null, out var stored) ? stored : default;
        return Source.StartActivity(name, kind, parent, startTime: startTime);
    }
}
