using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>Discord webhook: one embed, coloured by outcome, markdown links.</summary>
internal sealed class DiscordNotifier(IHttpClientFactory clients, IOptions<NotificationOptions> options) : INotifier
{
    private readonly DiscordOptions discord = options.Value.Discord;

    public string Name => "discord";

    public bool IsConfigured => !string.IsNullOrEmpty(discord.WebhookUrl);

    public Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken)
    {
        var body = new JsonObject();
        if (!string.IsNullOrEmpty(discord.Username))
        {
            body["username"] = discord.Username;
        }

        body["embeds"] = new JsonArray(new JsonObject
        {
            ["description"] = message.Render(Markdown.Escape, Markdown.Link),
            ["color"] = int.Parse(TeamsNotifier.HexColor(message.Outcome), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
        });
        // A user name must never ping anyone: no @everyone, no role or user mentions.
        body["allowed_mentions"] = new JsonObject { ["parse"] = new JsonArray() };
        var request = new HttpRequestMessage(HttpMethod.Post, discord.WebhookUrl) { Content = JsonContent.Create(body) };
        return NotifierHttp.SendAsync(clients, "Discord", request, cancellationToken);
    }
}
