using Heaven.Configuration;

namespace Heaven.Reconciliation;

/// <summary>
/// How Heaven finds what GitHub's webhooks failed to bring (section <c>Reconciliation</c>): GitHub does
/// not redeliver a failed webhook by itself.
/// </summary>
public sealed class ReconciliationOptions : ISelfValidatingOptions
{
    public const string Section = "Reconciliation";

    /// <summary>The most a setting in seconds may be: a week.</summary>
    private const int MaxSeconds = 7 * 24 * 3600;

    /// <summary>Seconds between passes (one also runs at start); 0 turns reconciliation off.</summary>
    public int Interval { get; set; } = 300;

    /// <summary>Seconds back from now that deployments and statuses are looked at.</summary>
    public int LookBack { get; set; } = 3600;

    public TimeSpan IntervalSpan => TimeSpan.FromSeconds(Interval);

    public TimeSpan LookBackSpan => TimeSpan.FromSeconds(LookBack);

    public IEnumerable<string> Validate()
    {
        if (Interval is < 0 or > MaxSeconds)
        {
            yield return $"{Section}:Interval must be a whole number of seconds from 0 (off) to {MaxSeconds}; got {Interval}.";
        }

        if (LookBack is < 60 or > MaxSeconds)
        {
            yield return $"{Section}:LookBack must be a whole number of seconds from 60 to {MaxSeconds}; got {LookBack}.";
        }
    }
}
