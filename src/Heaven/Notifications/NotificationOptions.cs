using Heaven.Configuration;
using Heaven.WorkItems;

namespace Heaven.Notifications;

/// <summary>
/// The chat services deployment statuses are announced to (section <c>Notifications</c>). Each
/// service is on when its settings are present; several may be on at once.
/// </summary>
public sealed class NotificationOptions : ISelfValidatingOptions
{
    public const string Section = "Notifications";

    public SlackOptions Slack { get; set; } = new();

    public TeamsOptions Teams { get; set; } = new();

    public DiscordOptions Discord { get; set; } = new();

    public WebhookNotifierOptions Webhook { get; set; } = new();

    public HipChatOptions HipChat { get; set; } = new();

    public CampfireOptions Campfire { get; set; } = new();

    /// <summary>
    /// List the commits a successful deployment shipped (<c>HEAVEN_NOTIFIER_DISPLAY_COMMITS</c>):
    /// <c>true</c> / <c>1</c> / <c>yes</c> / <c>on</c>, or <c>false</c> / <c>0</c> / <c>no</c> / <c>off</c>.
    /// A string, so the original's <c>1</c> reads as on. Needs the GitHub token.
    /// </summary>
    public string? DisplayCommits { get; set; }

    /// <summary>At most this many commits are listed; the rest are counted and linked.</summary>
    public int DisplayCommitsLimit { get; set; } = 10;

    public const int MaxDisplayCommitsLimit = 100;

    public bool ShowCommits => Flag(DisplayCommits) == true;

    /// <summary>How long one request to a chat service may take before it counts as a failed attempt.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Retry timings of the notification outbox (<c>Notifications:Delivery</c>). The same knobs and
    /// backoff as GitHub status delivery, so both outboxes behave alike and share one implementation.
    /// </summary>
    public StatusDeliveryOptions Delivery { get; set; } = new() { GiveUpAfter = TimeSpan.FromHours(6) };

    public IEnumerable<string> Validate()
    {
        foreach (var problem in CheckUrl("Slack:WebhookUrl", Slack.WebhookUrl))
        {
            yield return problem;
        }

        foreach (var problem in CheckUrl("Teams:WebhookUrl", Teams.WebhookUrl))
        {
            yield return problem;
        }

        foreach (var problem in CheckUrl("Discord:WebhookUrl", Discord.WebhookUrl))
        {
            yield return problem;
        }

        foreach (var problem in CheckUrl("Webhook:Url", Webhook.Url))
        {
            yield return problem;
        }

        foreach (var problem in CheckUrl("HipChat:Server", HipChat.Server))
        {
            yield return problem;
        }

        if (!string.IsNullOrEmpty(HipChat.Token) != !string.IsNullOrEmpty(HipChat.Room))
        {
            yield return $"{Setting.Name($"{Section}:HipChat:Token")} and {Setting.Name($"{Section}:HipChat:Room")} go together: set both or neither.";
        }

        foreach (var problem in CheckUrl("Slack:ApiUrl", Slack.ApiUrl))
        {
            yield return problem;
        }

        if (!string.IsNullOrEmpty(Slack.BotToken) && (Slack.BotToken.Any(char.IsWhiteSpace) || !Slack.BotToken.StartsWith("xox", StringComparison.Ordinal)))
        {
            // The original's SLACK_TOKEN was the token of a kind of incoming webhook Slack has retired;
            // say so rather than fail every message later. The value is never quoted.
            yield return $"{Setting.Name($"{Section}:Slack:BotToken")} must be a Slack API token (xoxb-… for a bot) without spaces. An old incoming-webhook token no longer works: use {Setting.Name($"{Section}:Slack:WebhookUrl")} for a webhook.";
        }

        foreach (var problem in CheckUrl("Campfire:Url", Campfire.Url))
        {
            yield return problem;
        }

        foreach (var problem in CheckUrl("Campfire:BotUrl", Campfire.BotUrl))
        {
            yield return problem;
        }

        var hasCampfireToken = !string.IsNullOrEmpty(Campfire.Token);
        var hasCampfireAddress = !string.IsNullOrEmpty(Campfire.Subdomain) || !string.IsNullOrEmpty(Campfire.Url);
        if (hasCampfireToken != hasCampfireAddress)
        {
            yield return $"{Setting.Name($"{Section}:Campfire:Token")} and {Setting.Name($"{Section}:Campfire:Subdomain")} go together: set both or neither.";
        }

        if (!string.IsNullOrEmpty(Campfire.Subdomain) && !CampfireOptions.IsSubdomain(Campfire.Subdomain))
        {
            yield return $"{Setting.Name($"{Section}:Campfire:Subdomain")} must be the account's subdomain only (letters, digits and hyphens, as in <subdomain>.campfirenow.com); got '{Campfire.Subdomain}'.";
        }

        if (!string.IsNullOrEmpty(DisplayCommits) && Flag(DisplayCommits) is null)
        {
            yield return $"{Setting.Name($"{Section}:DisplayCommits")} must be true or false (1 or 0); got '{DisplayCommits}'.";
        }

        if (DisplayCommitsLimit is < 1 or > MaxDisplayCommitsLimit)
        {
            yield return $"{Setting.Name($"{Section}:DisplayCommitsLimit")} must be between 1 and {MaxDisplayCommitsLimit}; got {DisplayCommitsLimit}.";
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            yield return $"{Section}:RequestTimeout must be a positive duration such as 00:00:30; got '{RequestTimeout}'.";
        }

        if (Delivery.Lease <= RequestTimeout * 2)
        {
            // Otherwise a slow but live send could be taken over by another node and sent twice. A send
            // may take two request timeouts: reading the deployment history from GitHub, then posting.
            yield return $"{Section}:Delivery:Lease ({Delivery.Lease}) must be longer than twice {Section}:RequestTimeout ({RequestTimeout}).";
        }

        // The shared rules speak of GitHub's section; said here for the section the user actually set.
        foreach (var problem in Delivery.Validate())
        {
            yield return problem.Replace(StatusDeliveryOptions.Section, $"{Section}:Delivery", StringComparison.Ordinal);
        }
    }

    /// <summary>true, false, or null when the text is neither.</summary>
    private static bool? Flag(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" or "" or null => false,
        _ => null,
    };

    /// <remarks>The value itself is never quoted: webhook URLs carry their secret in the path.</remarks>
    private static IEnumerable<string> CheckUrl(string key, string? value)
    {
        if (!string.IsNullOrEmpty(value) && !Setting.IsAbsoluteHttpUrl(value))
        {
            yield return $"{Setting.Name($"{Section}:{key}")} must be an absolute http(s) URL.";
        }
    }
}

public sealed class SlackOptions
{
    public const string DefaultApiUrl = "https://slack.com";

    /// <summary>An incoming webhook URL (a secret).</summary>
    public string? WebhookUrl { get; set; }

    /// <summary>
    /// A bot token (<c>xoxb-…</c>, a secret) for <c>chat.postMessage</c>, which can post to the room a
    /// deployment names in <c>payload.notify.room</c>; the bot must be in that channel.
    /// </summary>
    public string? BotToken { get; set; }

    /// <summary>Where the bot token posts when the deployment names no room.</summary>
    public string? Channel { get; set; }

    /// <summary>Slack's Web API base URL (a test server, a proxy).</summary>
    public string? ApiUrl { get; set; }

    public string? BotName { get; set; }

    /// <summary>An emoji (<c>:rocket:</c>) or an image URL.</summary>
    public string? BotIcon { get; set; }
}

public sealed class TeamsOptions
{
    /// <summary>An incoming webhook (or Workflows) URL (a secret).</summary>
    public string? WebhookUrl { get; set; }
}

public sealed class DiscordOptions
{
    /// <summary>A channel webhook URL (a secret).</summary>
    public string? WebhookUrl { get; set; }

    public string? Username { get; set; }
}

public sealed class WebhookNotifierOptions
{
    public string? Url { get; set; }

    /// <summary>When set, each body is signed with HMAC-SHA256 in <c>X-Heaven-Signature-256</c>.</summary>
    public string? Secret { get; set; }
}

public sealed class HipChatOptions
{
    /// <summary>A room notification token (a secret).</summary>
    public string? Token { get; set; }

    /// <summary>The room's id or name.</summary>
    public string? Room { get; set; }

    /// <summary>The HipChat Server / Data Center base URL; api.hipchat.com when unset.</summary>
    public string? Server { get; set; }
}

/// <summary>
/// Campfire, in both flavours. Classic 37signals Campfire: an API token and the account's subdomain;
/// the room comes from <c>payload.notify.room</c>, else <see cref="Room"/>. Today's self-hosted
/// Campfire (once.com): a bot's room URL.
/// </summary>
public sealed class CampfireOptions
{
    /// <summary>A classic Campfire API token (a secret).</summary>
    public string? Token { get; set; }

    /// <summary>The classic account's subdomain: <c>acme</c> for acme.campfirenow.com.</summary>
    public string? Subdomain { get; set; }

    /// <summary>The classic room (numeric id or name) when the deployment names none.</summary>
    public string? Room { get; set; }

    /// <summary>The classic API's base URL, when not <c>https://&lt;Subdomain&gt;.campfirenow.com</c>.</summary>
    public string? Url { get; set; }

    /// <summary>
    /// A self-hosted Campfire bot's room URL, <c>https://campfire.example.com/rooms/1/2-AbCdEf/messages</c>
    /// (a secret: the bot key is in its path).
    /// </summary>
    public string? BotUrl { get; set; }

    /// <summary>The classic API's base URL, from <see cref="Url"/> or the subdomain.</summary>
    public string ClassicBaseUrl => (string.IsNullOrEmpty(Url) ? $"https://{Subdomain}.campfirenow.com" : Url).TrimEnd('/');

    public static bool IsSubdomain(string value) =>
        value.Length <= 63 && value.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && !value.StartsWith('-') && !value.EndsWith('-');
}
