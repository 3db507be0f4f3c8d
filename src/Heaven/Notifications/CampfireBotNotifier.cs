using System.Text;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>
/// Today's self-hosted Campfire (once.com): a bot posts to its room URL, which carries the bot key, with
/// the message as a plain-text body.
/// </summary>
internal sealed class CampfireBotNotifier(IHttpClientFactory clients, IOptions<NotificationOptions> options) : INotifier
{
    private readonly CampfireOptions campfire = options.Value.Campfire;

    public string Name => "campfire-bot";

    public bool IsConfigured => !string.IsNullOrEmpty(campfire.BotUrl);

    public Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, campfire.BotUrl)
        {
            Content = new StringContent(message.PlainTextWithUrls(), Encoding.UTF8, "text/plain"),
        };
        return NotifierHttp.SendAsync(clients, "Campfire", request, cancellationToken);
    }
}
