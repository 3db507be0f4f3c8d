namespace Heaven.Configuration;

/// <summary>Settings of the Heaven server as a whole (section <c>Heaven</c>, plus the root key <c>DataDirectory</c>).</summary>
public sealed class HeavenOptions : ISelfValidatingOptions
{
    public const string Section = "Heaven";

    /// <summary>
    /// The address people and GitHub reach this server at, e.g. <c>https://heaven.example.com</c>.
    /// Used for the webhook URL printed at start and for log links.
    /// </summary>
    public string? PublicUrl { get; set; }

    /// <summary>
    /// How long a log link works after it is issued (a duration, <c>90.00:00:00</c> for 90 days). A link
    /// names its own end, signed with it; an older one answers "This log link has expired".
    /// </summary>
    public TimeSpan LogLinkLifetime { get; set; } = DefaultLogLinkLifetime;

    public static TimeSpan DefaultLogLinkLifetime { get; } = TimeSpan.FromDays(90);

    /// <summary>Ten years: a link meant to outlive that should not be a link.</summary>
    public static TimeSpan MaximumLogLinkLifetime { get; } = TimeSpan.FromDays(3650);

    public IEnumerable<string> Validate()
    {
        if (LogLinkLifetime < TimeSpan.FromMinutes(1) || LogLinkLifetime > MaximumLogLinkLifetime)
        {
            yield return $"Heaven:LogLinkLifetime must be a duration from 00:01:00 to 3650.00:00:00 (days.hours:minutes:seconds, e.g. 90.00:00:00 for 90 days); got {LogLinkLifetime}.";
        }

        if (!string.IsNullOrWhiteSpace(PublicUrl) && !Setting.IsAbsoluteHttpUrl(PublicUrl))
        {
            yield return $"Heaven:PublicUrl must be an absolute http(s) URL such as https://heaven.example.com; got '{PublicUrl}'.";
        }
    }
}
