using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>Microsoft Teams incoming webhook: a MessageCard (markdown text, theme colour by outcome).</summary>
internal sealed class TeamsNotifier(IHttpClientFactory clients, IOptions<NotificationOptions> options) : INotifier
{
    private readonly TeamsOptions teams = options.Value.Teams;

    public string Name => "teams";

    public bool IsConfigured => !string.IsNullOrEmpty(teams.WebhookUrl);

    public Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["@type"] = "MessageCard",
            ["@context"] = "https://schema.org/extensions",
            ["themeColor"] = HexColor(message.Outcome),
            ["summary"] = message.PlainText(),
            // A single newline is no line break in a card's markdown; a blank line is.
            ["text"] = message.Render(Markdown.Escape, Markdown.Link, "\n\n"),
        };
        var request = new HttpRequestMessage(HttpMethod.Post, teams.WebhookUrl) { Content = JsonContent.Create(body) };
        return NotifierHttp.SendAsync(clients, "Microsoft Teams", request, cancellationToken);
    }

    /// <summary>Slack's good / warning / danger, as hex for services without named colours.</summary>
    public static string HexColor(DeploymentOutcome outcome) => outcome switch
    {
        DeploymentOutcome.Succeeded => "2EB886",
        DeploymentOutcome.Started => "DAA038",
        _ => "A30200",
    };
}
