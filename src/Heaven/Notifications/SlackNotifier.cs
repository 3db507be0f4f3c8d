using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>Slack incoming webhook: one attachment coloured by outcome, mrkdwn links.</summary>
internal sealed class SlackNotifier(IHttpClientFactory clients, IOptions<NotificationOptions> options) : INotifier
{
    private readonly SlackOptions slack = options.Value.Slack;

    public string Name => "slack";

    public bool IsConfigured => !string.IsNullOrEmpty(slack.WebhookUrl);

    public Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken)
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
            ["text"] = message.Render(Escape, (url, text) => $"<{url}|{text}>"),
            ["mrkdwn_in"] = new JsonArray("text"),
        });
        var request = new HttpRequestMessage(HttpMethod.Post, slack.WebhookUrl) { Content = JsonContent.Create(body) };
        return NotifierHttp.SendAsync(clients, "Slack", request, cancellationToken);
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
}
