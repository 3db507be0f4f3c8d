using Heaven.Configuration;

namespace Heaven.Retention;

/// <summary>
/// How long Heaven keeps bookkeeping rows (section <c>Retention</c>). Deployments themselves are
/// history and are kept; their logs are kept unless <see cref="DeploymentLogs"/> is set. An empty
/// value keeps that kind of row forever.
/// </summary>
public sealed class RetentionOptions : ISelfValidatingOptions
{
    public const string Section = "Retention";

    /// <summary>
    /// The delivery log (<c>heaven deliveries</c>), which also recognises GitHub's redeliveries: kept
    /// long past any redelivery anyone makes by hand.
    /// </summary>
    public TimeSpan? Deliveries { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Finished outbox items (sent statuses and messages, evaluated events): <c>heaven outbox</c>.</summary>
    public TimeSpan? WorkItems { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Auto-deploy decisions (<c>heaven autodeploy-log</c>).</summary>
    public TimeSpan? AutoDeployDecisions { get; set; } = TimeSpan.FromDays(90);

    /// <summary>The stored output of deployments finished longer ago than this; kept forever by default.</summary>
    public TimeSpan? DeploymentLogs { get; set; }

    /// <summary>How often the clean-up runs.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    public IEnumerable<string> Validate()
    {
        foreach (var (name, value) in new[]
                 {
                     (nameof(Deliveries), Deliveries),
                     (nameof(WorkItems), WorkItems),
                     (nameof(AutoDeployDecisions), AutoDeployDecisions),
                     (nameof(DeploymentLogs), DeploymentLogs),
                 })
        {
            if (value is { } period && period < TimeSpan.FromHours(1))
            {
                yield return $"{Section}:{name} must be at least an hour (for example 30.00:00:00 for 30 days), or empty to keep forever; got '{period}'.";
            }
        }

        if (Interval <= TimeSpan.Zero)
        {
            yield return $"{Section}:Interval must be a positive duration such as 01:00:00; got '{Interval}'.";
        }
    }
}
