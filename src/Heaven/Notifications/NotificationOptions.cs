using Heaven.Configuration;
using Heaven.GitHub;

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

        if (RequestTimeout <= TimeSpan.Zero)
        {
            yield return $"{Section}:RequestTimeout must be a positive duration such as 00:00:30; got '{RequestTimeout}'.";
        }

        if (Delivery.Lease <= RequestTimeout)
        {
            // Otherwise a slow but live request could be taken over by another node and sent twice.
            yield return $"{Section}:Delivery:Lease ({Delivery.Lease}) must be longer than {Section}:RequestTimeout ({RequestTimeout}).";
        }

        // The shared rules speak of GitHub's section; said here for the section the user actually set.
        foreach (var problem in Delivery.Validate())
        {
            yield return problem.Replace(StatusDeliveryOptions.Section, $"{Section}:Delivery", StringComparison.Ordinal);
        }
    }

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
    /// <summary>An incoming webhook URL (a secret).</summary>
    public string? WebhookUrl { get; set; }

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
