using Heaven.Configuration;

namespace Heaven.Retention;

/// <summary>
/// How long Heaven keeps bookkeeping rows, deploy logs and mirrors (section <c>Retention</c>).
/// Deployments themselves are history and are kept. An empty value keeps that kind of thing forever.
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

    /// <summary>The stored output of deployments finished longer ago than this (replaced by a one-line notice saying so).</summary>
    public TimeSpan? Logs { get; set; } = TimeSpan.FromDays(90);

    /// <summary>The older name of <see cref="Logs"/>; when set, it is the one used.</summary>
    public TimeSpan? DeploymentLogs { get; set; }

    /// <summary>Also delete the gist a removed log was mirrored to (through the outbox, retried; off by default).</summary>
    public bool DeleteGists { get; set; }

    /// <summary>The git mirror of a repository nothing was deployed from for this long; fetched again when needed.</summary>
    public TimeSpan? Mirrors { get; set; } = TimeSpan.FromDays(30);

    /// <summary>The log retention in effect: <see cref="DeploymentLogs"/> when set, else <see cref="Logs"/>.</summary>
    public TimeSpan? LogRetention => DeploymentLogs ?? Logs;

    /// <summary>How often the clean-up runs.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    public IEnumerable<string> Validate()
    {
        foreach (var (name, value) in new[]
                 {
                     (nameof(Deliveries), Deliveries),
                     (nameof(WorkItems), WorkItems),
                     (nameof(AutoDeployDecisions), AutoDeployDecisions),
                     (nameof(Logs), Logs),
                     (nameof(DeploymentLogs), DeploymentLogs),
                     (nameof(Mirrors), Mirrors),
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
