using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>
/// Slack: one attachment coloured by outcome, mrkdwn links. Two ways in, one notifier (work item kind
/// <c>notify:slack</c> either way): an incoming webhook posts to the channel it was made for; a bot
/// token posts with <c>chat.postMessage</c> to the room the deployment names in
/// <c>payload.notify.room</c>, else to <c>Notifications:Slack:Channel</c>. With both set, the bot
/// token is used whenever it has a channel to post to, and the webhook otherwise.
/// </summary>
internal sealed class SlackNotifier(IHttpClientFactory clients, IOptions<NotificationOptions> options) : INotifier
{
    /// <summary>
    /// chat.postMessage errors that are Slack's momentary trouble; every other error is about the
    /// token, the channel or the message and would come back the same way.
    /// </summary>
    private static readonly HashSet<string> TransientErrors = new(StringComparer.Ordinal)
    {
        "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    };

    private readonly SlackOptions slack = options.Value.Slack;

    public string Name => "slack";

    public bool IsConfigured => !string.IsNullOrEmpty(slack.WebhookUrl) || !string.IsNullOrEmpty(slack.BotToken);

    public async Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken)
    {
        var channel = ChannelName(message.Room) ?? ChannelName(slack.Channel);
        if (!string.IsNullOrEmpty(slack.BotToken) && channel is not null)
        {
            await PostMessageAsync(channel, message, cancellationToken);
            return;
        }

        if (string.IsNullOrEmpty(slack.WebhookUrl))
        {
            throw new NotifierException(
                "Slack has no channel to post to: the deployment names no room in payload.notify.room and Notifications:Slack:Channel is not set.",
                permanent: true);
        }

        var request = new HttpRequestMessage(HttpMethod.Post, slack.WebhookUrl) { Content = JsonContent.Create(Body(message)) };
        await NotifierHttp.SendAsync(clients, "Slack", request, cancellationToken);
    }

    public static string Color(DeploymentOutcome outcome) => outcome switch
    {
        DeploymentOutcome.Succeeded => "good",
        DeploymentOutcome.Started => "warning",
        _ => "danger",
    };

    /// <summary>Slack's three control characters; anything else in a user or branch name is shown as is.</summary>
    public static string Escape(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    /// <summary>
    /// <c>&lt;url|text&gt;</c>. The address is cleaned already (no <c>|</c>, <c>&lt;</c> or <c>&gt;</c>
    /// left in it; its <c>&amp;</c> is escaped here, as Slack wants); a <c>|</c> in the (escaped) text,
    /// which Slack's syntax gives no escape for, is shown as <c>¦</c>.
    /// </summary>
    public static string Link(string url, string text) =>
        $"<{url.Replace("&", "&amp;", StringComparison.Ordinal)}|{text.Replace('|', '¦')}>";

    /// <summary>hubot sends the room as the chat shows it: <c>#ops</c> and <c>ops</c> are the same channel.</summary>
    private static string? ChannelName(string? room) => room?.Trim().TrimStart('#') is { Length: > 0 } name ? name : null;

    /// <summary>
    /// <c>chat.postMessage</c>. Slack answers its errors with 200 and <c>{"ok":false,"error":"…"}</c>;
    /// a rate limit with 429 and Retry-After, which the sender honours.
    /// </summary>
    private async Task PostMessageAsync(string channel, DeploymentNotification message, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["channel"] = channel };
        foreach (var (key, value) in Body(message))
        {
            body[key] = value?.DeepClone();
        }

        var apiUrl = (string.IsNullOrEmpty(slack.ApiUrl) ? SlackOptions.DefaultApiUrl : slack.ApiUrl).TrimEnd('/');
        var request = new HttpRequestMessage(HttpMethod.Post, $"{apiUrl}/api/chat.postMessage") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", slack.BotToken);
        var answer = await NotifierHttp.SendAsync(clients, "Slack", request, cancellationToken);

        JsonNode? result;
        try
        {
            result = JsonNode.Parse(answer.Body);
        }
        catch (JsonException)
        {
            result = null;
        }

        if (result?["ok"] is not JsonValue ok || !ok.TryGetValue<bool>(out var succeeded))
        {
            throw new NotifierException("Slack's chat.postMessage answered without its usual JSON; is Notifications:Slack:ApiUrl right?", permanent: false)
            {
                RetryAfter = answer.RetryAfter,
            };
        }

        if (succeeded)
        {
            return;
        }

        var error = result["error"] is JsonValue e && e.TryGetValue<string>(out var code) ? code : "unknown_error";
        var hint = error switch
        {
            "channel_not_found" => " (no such channel, or a private one the bot is not in)",
            "not_in_channel" => " (invite the bot to the channel)",
            "invalid_auth" or "not_authed" or "token_revoked" or "account_inactive" => " (check Notifications:Slack:BotToken)",
            _ => string.Empty,
        };
        throw new NotifierException($"Slack refused the message to #{channel}: {error}{hint}", permanent: !TransientErrors.Contains(error))
        {
            RetryAfter = answer.RetryAfter,
        };
    }

    private JsonObject Body(DeploymentNotification message)
    {
        var body = new JsonObject();
        if (!string.IsNullOrEmpty(slack.BotName))
        {
            body["username"] = slack.BotName;
        }

        if (!string.IsNullOrEmpty(slack.BotIcon))
        {
            body[slack.BotIcon.StartsWith(':') ? "icon_emoji" : "icon_url"] = slack.BotIcon;
        }

        body["attachments"] = new JsonArray(new JsonObject
        {
            ["fallback"] = Escape(message.PlainText()),
            ["color"] = Color(message.Outcome),
            ["text"] = message.Render(Escape, Link),
            ["mrkdwn_in"] = new JsonArray("text"),
        });
        return body;
    }
}
