using Heaven.Configuration;

namespace Heaven.WorkItems;

/// <summary>
/// How the status outbox delivers deployment statuses to GitHub (section <c>GitHub:StatusDelivery</c>).
/// The defaults ride out a GitHub outage of a day without flooding it when it comes back.
/// </summary>
public sealed class StatusDeliveryOptions : ISelfValidatingOptions
{
    public const string Section = "GitHub:StatusDelivery";

    /// <summary>How often the sender looks for retries that became due and for items another node or an earlier run left.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a sender that hears the other nodes' announcements (PostgreSQL, <c>LISTEN</c> up) and was
    /// not woken for a whole <see cref="PollInterval"/> waits at most before it looks again, unless an item
    /// becomes due sooner: what others record is announced, so this poll only finds what a node left that
    /// died between recording and announcing. Not a setting; tests stretch it.
    /// </summary>
    internal TimeSpan QuietPoll { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The wait after the first failed attempt; it doubles with every further failure.</summary>
    public TimeSpan RetryBase { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two attempts, unless GitHub itself asks for longer (Retry-After, rate limit reset).</summary>
    public TimeSpan RetryCap { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>After this long since the status was enqueued, a transient failure gives the status up (Failed).</summary>
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a node owns an item it is sending; another node takes it over only after this. Longer
    /// than <c>GitHub:RequestTimeout</c>, so a slow but live request is never sent twice.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    public IEnumerable<string> Validate()
    {
        foreach (var (name, value) in new[]
                 {
                     (nameof(PollInterval), PollInterval),
                     (nameof(RetryBase), RetryBase),
                     (nameof(RetryCap), RetryCap),
                     (nameof(GiveUpAfter), GiveUpAfter),
                     (nameof(Lease), Lease),
                 })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return $"{Section}:{name} must be a positive duration such as 00:00:05; got '{value}'.";
            }
        }

        if (RetryCap < RetryBase)
        {
            yield return $"{Section}:RetryCap ({RetryCap}) must not be shorter than {Section}:RetryBase ({RetryBase}).";
        }
    }

    /// <summary>Exponential backoff (base, 2×base, 4×base, … up to the cap), never sooner than GitHub asked.</summary>
    public TimeSpan RetryDelay(int failedAttempts, TimeSpan? retryAfter)
    {
        var exponent = Math.Clamp(failedAttempts - 1, 0, 30);
        var backoff = TimeSpan.FromTicks((long)Math.Min(RetryBase.Ticks * Math.Pow(2, exponent), RetryCap.Ticks));
        return retryAfter is { } asked && asked > backoff ? asked : backoff;
    }
}
