using System.Diagnostics.Metrics;

namespace Heaven.Telemetry;

/// <summary>
/// Heaven's own instruments, in one meter. Components record into it; the exporters (Prometheus at
/// <c>/metrics</c>, OTLP) are wired in Hosting. The names and units are chosen so that the Prometheus
/// names come out as docs/monitoring.md lists them (a counter gets <c>_total</c>, the unit <c>s</c>
/// gets <c>_seconds</c>).
/// </summary>
public sealed class HeavenMetrics
{
    public const string MeterName = "Heaven";

    private readonly Counter<long> deploymentsFinished;
    private readonly Histogram<double> deploymentDuration;
    private readonly Histogram<double> queueWait;
    private readonly UpDownCounter<long> deploymentsRunning;
    private readonly Counter<long> webhookDeliveries;
    private long rateLimitRemaining = -1;

    /// <param name="outbox">Read only when the metrics are collected (a scrape, an export), never on a deploy's path.</param>
    public HeavenMetrics(IMeterFactory meters, Func<IOutboxStatistics?> outbox)
    {
        // Created through the container's factory: a meter belongs to one Heaven, not to the process.
        Meter = meters.Create(MeterName);
        deploymentsFinished = Meter.CreateCounter<long>("heaven.deployments.finished", description: "Deployments this node ran to an end, by final state and provider.");
        deploymentDuration = Meter.CreateHistogram<double>("heaven.deployment.duration", "s", "How long deployments ran, from the claim to the final state, by provider.");
        queueWait = Meter.CreateHistogram<double>("heaven.deployment.queue_wait", "s", "How long deployments waited from the webhook's 202 until their provider started (checkout included).");
        deploymentsRunning = Meter.CreateUpDownCounter<long>("heaven.deployments.running", description: "Deployments running on this node now.");
        webhookDeliveries = Meter.CreateCounter<long>("heaven.webhook.deliveries", description: "Webhook deliveries received, by event and what Heaven did with them.");
        Meter.CreateObservableGauge("heaven.outbox.pending", () => Outbox(outbox).Select(s => new Measurement<long>(s.Pending, new KeyValuePair<string, object?>("kind", s.Kind))), description: "Outbox items not yet done, by kind.");
        Meter.CreateObservableGauge("heaven.outbox.oldest_age", () => Outbox(outbox).Select(s => new Measurement<double>(s.OldestAge.TotalSeconds, new KeyValuePair<string, object?>("kind", s.Kind))), "s", "How long the oldest pending outbox item of each kind has waited.");
        Meter.CreateObservableGauge("heaven.github.rate_limit_remaining", RateLimitRemaining, description: "Requests left in GitHub's rate limit window, from the last response that said.");
    }

    public Meter Meter { get; }

    /// <summary>A worker took a deployment; pair with <see cref="DeploymentEnded"/>.</summary>
    public void DeploymentStarted() => deploymentsRunning.Add(1);

    /// <summary>A deployment's provider starts, <paramref name="waited"/> after its webhook was answered 202.</summary>
    public void ProviderStarting(TimeSpan waited) => queueWait.Record(Math.Max(0, waited.TotalSeconds));

    /// <summary>The worker let go of the deployment, however it ended.</summary>
    public void DeploymentEnded() => deploymentsRunning.Add(-1);

    /// <param name="state">success, failure, error or cancelled.</param>
    public void DeploymentFinished(string state, string? provider, TimeSpan took)
    {
        var providerTag = new KeyValuePair<string, object?>("provider", provider ?? "none");
        deploymentsFinished.Add(1, new KeyValuePair<string, object?>("state", state), providerTag);
        deploymentDuration.Record(took.TotalSeconds, providerTag);
    }

    /// <summary>
    /// A deployment whose worker was lost (killed, hung, cut off) was reported <c>error</c> by this node's
    /// reaper: counted as finished with state <c>lost</c>, so it can be alerted on apart from failed
    /// deploys; no duration, since nobody saw it end.
    /// </summary>
    public void DeploymentLost(string? provider) =>
        deploymentsFinished.Add(1, new KeyValuePair<string, object?>("state", "lost"), new KeyValuePair<string, object?>("provider", provider ?? "none"));

    public void WebhookDelivery(string eventName, string result) =>
        webhookDeliveries.Add(1, new KeyValuePair<string, object?>("event", eventName), new KeyValuePair<string, object?>("result", result));

    /// <summary>From a GitHub response's <c>X-RateLimit-Remaining</c>.</summary>
    public void GitHubRateLimitRemaining(long remaining) => Interlocked.Exchange(ref rateLimitRemaining, remaining);

    private IEnumerable<Measurement<long>> RateLimitRemaining()
    {
        var remaining = Interlocked.Read(ref rateLimitRemaining);
        return remaining < 0 ? [] : [new Measurement<long>(remaining)];
    }

    private static IReadOnlyList<OutboxKindStatistics> Outbox(Func<IOutboxStatistics?> outbox) => outbox()?.Read() ?? [];
}
