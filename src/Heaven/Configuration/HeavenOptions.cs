namespace Heaven.Configuration;

/// <summary>Settings of the Heaven server as a whole (section <c>Heaven</c>, plus the root key <c>DataDirectory</c>).</summary>
public sealed class HeavenOptions : ISelfValidatingOptions
{
    public const string Section = "Heaven";

    /// <summary>
    /// The address people and GitHub reach this server at, e.g. <c>https://heaven.example.com</c>.
    /// Used for the webhook URL printed at start and, later, for log links.
    /// </summary>
    public string? PublicUrl { get; set; }

    public IEnumerable<string> Validate()
    {
        if (!string.IsNullOrWhiteSpace(PublicUrl) && !Setting.IsAbsoluteHttpUrl(PublicUrl))
        {
            yield return $"Heaven:PublicUrl must be an absolute http(s) URL such as https://heaven.example.com; got '{PublicUrl}'.";
        }
    }
}
