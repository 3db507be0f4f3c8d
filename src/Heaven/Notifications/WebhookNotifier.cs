using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>
/// A generic JSON webhook, for anything without its own notifier. With a secret the body is signed
/// the way GitHub signs its webhooks: <c>X-Heaven-Signature-256: sha256=&lt;hex HMAC-SHA256&gt;</c>.
/// </summary>
internal sealed class WebhookNotifier(IHttpClientFactory clients, IOptions<NotificationOptions> options) : INotifier
{
    public const string SignatureHeader = "X-Heaven-Signature-256";

    private readonly WebhookNotifierOptions webhook = options.Value.Webhook;

    public string Name => "webhook";

    public bool IsConfigured => !string.IsNullOrEmpty(webhook.Url);

    public Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes(Body(message).ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url) { Content = content };
        request.Headers.Add("X-Heaven-Event", "deployment_status");
        if (!string.IsNullOrEmpty(webhook.Secret))
        {
            request.Headers.Add(SignatureHeader, Sign(body, webhook.Secret));
        }

        return NotifierHttp.SendAsync(clients, "The notification webhook", request, cancellationToken);
    }

    public static string Sign(byte[] body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public static JsonObject Body(DeploymentNotification message)
    {
        var body = new JsonObject
        {
            ["event"] = "deployment_status",
            ["state"] = message.State,
            ["outcome"] = message.Outcome switch
            {
                DeploymentOutcome.Started => "started",
                DeploymentOutcome.Succeeded => "succeeded",
                DeploymentOutcome.Failed => "failed",
                _ => "errored",
            },
            ["repository"] = message.Repository,
            ["ref"] = message.Ref,
            ["sha"] = message.Sha,
            ["environment"] = message.Environment,
            ["user"] = message.User,
            ["room"] = message.Room,
            ["log_url"] = message.LogUrl,
            ["description"] = message.Description,
            ["duration_seconds"] = message.Duration is { } d ? (long)d.TotalSeconds : null,
            ["text"] = message.PlainText(),
        };

        // Present only when known, so a receiver can tell "none" from "not looked up".
        if (message.Outcome == DeploymentOutcome.Started && message.Previous is { } previous)
        {
            body["previous_sha"] = previous.Sha;
            body["compare_url"] = previous.CompareUrl;
        }

        if (message.Outcome == DeploymentOutcome.Succeeded && message.Shipped is { } shipped)
        {
            body["total_commits"] = shipped.Total;
            body["compare_url"] = shipped.CompareUrl;
            body["commits"] = new JsonArray(shipped.Commits.Select(c => (JsonNode)new JsonObject
            {
                ["sha"] = c.Sha,
                ["message"] = c.Title,
                ["author"] = c.Author,
                ["url"] = c.Url,
            }).ToArray());
        }

        return body;
    }
}
