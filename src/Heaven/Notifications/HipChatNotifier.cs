using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>
/// HipChat Server / Data Center room notification API (v2). Notifications:HipChat:Server is honoured
/// (the original ignored it and always called hipchat.com, which no longer exists).
/// </summary>
internal sealed class HipChatNotifier(IHttpClientFactory clients, IOptions<NotificationOptions> options) : INotifier
{
    public const string DefaultServer = "https://api.hipchat.com";

    private readonly HipChatOptions hipChat = options.Value.HipChat;

    public string Name => "hipchat";

    public bool IsConfigured => !string.IsNullOrEmpty(hipChat.Token) && !string.IsNullOrEmpty(hipChat.Room);

    public Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken)
    {
        var server = (string.IsNullOrEmpty(hipChat.Server) ? DefaultServer : hipChat.Server).TrimEnd('/');
        var body = new JsonObject
        {
            ["message"] = message.Render(WebUtility.HtmlEncode, (url, text) => $"<a href=\"{WebUtility.HtmlEncode(url)}\">{text}</a>", "<br>"),
            ["message_format"] = "html",
            ["color"] = message.Outcome switch
            {
                DeploymentOutcome.Succeeded => "green",
                DeploymentOutcome.Started => "yellow",
                _ => "red",
            },
            // Only what needs attention makes the room blink.
            ["notify"] = message.Outcome is DeploymentOutcome.Failed or DeploymentOutcome.Errored,
        };
        var request = new HttpRequestMessage(HttpMethod.Post, $"{server}/v2/room/{Uri.EscapeDataString(hipChat.Room!)}/notification")
        {
            Content = JsonContent.Create(body),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", hipChat.Token);
        return NotifierHttp.SendAsync(clients, "HipChat", request, cancellationToken);
    }
}
