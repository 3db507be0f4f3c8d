using System.Net;
using Heaven.Configuration;

namespace Heaven.Intake;

/// <summary>How <c>POST /events</c> decides what to accept. Section <c>Webhooks</c>.</summary>
public sealed class WebhookOptions : ISelfValidatingOptions
{
    public const string Section = "Webhooks";

    /// <summary>GitHub's own cap on a webhook payload.</summary>
    public const long GitHubMaxPayloadBytes = 25 * 1024 * 1024;

    /// <summary>The webhook secret. When empty, Heaven generates one in the data directory.</summary>
    public string? Secret { get; set; }

    /// <summary>A second accepted secret, so the secret can be rotated without dropping deliveries.</summary>
    public string? SecondarySecret { get; set; }

    public long MaxBodyBytes { get; set; } = GitHubMaxPayloadBytes;

    /// <summary>
    /// The bytes held at once, across all requests, for bodies whose signature is not checked yet.
    /// A request that would take more is answered 503 with <c>Retry-After</c>, so senders without the
    /// secret cannot make Heaven buffer more than this.
    /// </summary>
    public long MaxPendingBodyBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// A body that arrives slower than this (bytes a second, averaged, after a grace period of
    /// <see cref="MinBodyDataRateGracePeriod"/>) is cut off (Kestrel's minimum request body data rate,
    /// set for <c>/events</c>). 0 turns the rule off.
    /// </summary>
    public int MinBodyBytesPerSecond { get; set; } = 1024;

    /// <summary>The longest a whole body may take to arrive; GitHub itself gives up on a delivery after 10 seconds.</summary>
    public TimeSpan BodyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a body may arrive slower than <see cref="MinBodyBytesPerSecond"/> before the rate counts (Kestrel's default grace).</summary>
    public static TimeSpan MinBodyDataRateGracePeriod { get; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// <c>owner/name</c> or <c>owner/*</c> patterns. Empty: every repository whose webhooks are signed
    /// with the secret is served. Events from other repositories are answered "ignored".
    /// </summary>
    public List<string> AllowedRepositories { get; set; } = [];

    /// <summary>Also require the sender's address to be in the <c>hooks</c> ranges of GitHub's <c>/meta</c>.</summary>
    public bool VerifySourceAddress { get; set; }

    /// <summary>Proxies (addresses or CIDR ranges) whose <c>X-Forwarded-For</c> is believed.</summary>
    public List<string> TrustedProxies { get; set; } = [];

    /// <summary>How often GitHub's <c>/meta</c> ranges are refreshed.</summary>
    public TimeSpan MetaRefreshInterval { get; set; } = TimeSpan.FromHours(1);

    public IEnumerable<string> Validate()
    {
        if (MaxBodyBytes is < 1024 or > 1024L * 1024 * 1024)
        {
            yield return $"Webhooks:MaxBodyBytes must be a number of bytes from 1024 to 1073741824 (GitHub sends at most {GitHubMaxPayloadBytes}); got {MaxBodyBytes}.";
        }

        if (MaxPendingBodyBytes < MaxBodyBytes)
        {
            yield return $"Webhooks:MaxPendingBodyBytes ({MaxPendingBodyBytes}) must be at least Webhooks:MaxBodyBytes ({MaxBodyBytes}): otherwise the largest accepted body could never be read.";
        }

        if (MinBodyBytesPerSecond is < 0 or > 100 * 1024 * 1024)
        {
            yield return $"Webhooks:MinBodyBytesPerSecond must be a number of bytes a second from 0 (no minimum) to 104857600; got {MinBodyBytesPerSecond}.";
        }

        if (BodyTimeout < TimeSpan.FromSeconds(1) || BodyTimeout > TimeSpan.FromMinutes(10))
        {
            yield return $"Webhooks:BodyTimeout must be from 00:00:01 to 00:10:00; got {BodyTimeout}.";
        }

        foreach (var (key, secret) in new[] { ("Webhooks:Secret", Secret), ("Webhooks:SecondarySecret", SecondarySecret) })
        {
            if (!string.IsNullOrEmpty(secret) && secret.Length < 16)
            {
                yield return $"{Setting.Name(key)} is too short to protect a deploy endpoint: use at least 16 characters (Heaven generates a 64-character one when none is set).";
            }
        }

        foreach (var pattern in AllowedRepositories)
        {
            if (!RepositoryAllowList.IsValidPattern(pattern))
            {
                yield return $"Webhooks:AllowedRepositories entries must look like 'owner/name' or 'owner/*'; got '{pattern}'.";
            }
        }

        foreach (var proxy in TrustedProxies)
        {
            if (!IPNetwork.TryParse(proxy, out _) && !IPAddress.TryParse(proxy, out _))
            {
                yield return $"Webhooks:TrustedProxies entries must be IP addresses or CIDR ranges such as 10.0.0.0/8; got '{proxy}'.";
            }
        }

        if (MetaRefreshInterval < TimeSpan.FromMinutes(1))
        {
            yield return $"Webhooks:MetaRefreshInterval must be at least 00:01:00; got {MetaRefreshInterval}.";
        }
    }
}
