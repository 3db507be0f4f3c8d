using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Heaven.Notifications;

/// <summary>How one configured chat service answered a probe. <see cref="Problem"/> is null when it answered as it should.</summary>
public sealed record ChatServiceAnswer(string Service, string? Problem, string Detail);

/// <summary>
/// Asks each configured chat service whether it is there, without posting anything: Slack's
/// <c>auth.test</c> for a bot token, HipChat's room and Campfire's own user for a token, and a plain GET
/// of a webhook URL (which posts only on POST). Nothing said names a URL: webhook URLs are secrets.
/// </summary>
public sealed class ChatServiceProbe
{
    private readonly IHttpClientFactory clients;
    private readonly NotificationOptions options;

    internal ChatServiceProbe(IHttpClientFactory clients, IOptions<NotificationOptions> options)
    {
        this.clients = clients;
        this.options = options.Value;
    }

    /// <summary>One answer per configured service, in a fixed order; none when no chat service is configured.</summary>
    public async Task<IReadOnlyList<ChatServiceAnswer>> ProbeAsync(CancellationToken cancellationToken)
    {
        var answers = new List<ChatServiceAnswer>();
        var slack = options.Slack;
        if (!string.IsNullOrEmpty(slack.BotToken))
        {
            answers.Add(await SlackAuthTestAsync(slack, cancellationToken));
        }

        if (!string.IsNullOrEmpty(slack.WebhookUrl))
        {
            answers.Add(await GetWebhookAsync("Slack webhook", "Notifications:Slack:WebhookUrl", slack.WebhookUrl, cancellationToken));
        }

        if (!string.IsNullOrEmpty(options.Teams.WebhookUrl))
        {
            answers.Add(await GetWebhookAsync("Teams", "Notifications:Teams:WebhookUrl", options.Teams.WebhookUrl, cancellationToken));
        }

        if (!string.IsNullOrEmpty(options.Discord.WebhookUrl))
        {
            // Discord answers a GET of a webhook with the webhook's description: a real check of the URL.
            answers.Add(await GetWebhookAsync("Discord", "Notifications:Discord:WebhookUrl", options.Discord.WebhookUrl, cancellationToken));
        }

        if (!string.IsNullOrEmpty(options.Webhook.Url))
        {
            answers.Add(await GetWebhookAsync("Webhook", "Notifications:Webhook:Url", options.Webhook.Url, cancellationToken));
        }

        var hipChat = options.HipChat;
        if (!string.IsNullOrEmpty(hipChat.Token) && !string.IsNullOrEmpty(hipChat.Room))
        {
            var server = (string.IsNullOrEmpty(hipChat.Server) ? HipChatNotifier.DefaultServer : hipChat.Server).TrimEnd('/');
            var request = new HttpRequestMessage(HttpMethod.Get, $"{server}/v2/room/{Uri.EscapeDataString(hipChat.Room)}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", hipChat.Token);
            answers.Add(await AuthenticatedAsync("HipChat", "Notifications:HipChat:Token and Room", request, cancellationToken));
        }

        var campfire = options.Campfire;
        if (!string.IsNullOrEmpty(campfire.Token) && (!string.IsNullOrEmpty(campfire.Subdomain) || !string.IsNullOrEmpty(campfire.Url)))
        {
            var request = new HttpRequestMessage(HttpMethod.Get, campfire.ClassicBaseUrl + "/users/me.json");
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{campfire.Token}:X")));
            answers.Add(await AuthenticatedAsync("Campfire", "Notifications:Campfire:Token", request, cancellationToken));
        }

        if (!string.IsNullOrEmpty(campfire.BotUrl))
        {
            answers.Add(await GetWebhookAsync("Campfire bot", "Notifications:Campfire:BotUrl", campfire.BotUrl, cancellationToken));
        }

        return answers;
    }

    private async Task<ChatServiceAnswer> SlackAuthTestAsync(SlackOptions slack, CancellationToken cancellationToken)
    {
        const string Service = "Slack bot";
        var apiUrl = (string.IsNullOrEmpty(slack.ApiUrl) ? SlackOptions.DefaultApiUrl : slack.ApiUrl).TrimEnd('/');
        var request = new HttpRequestMessage(HttpMethod.Post, $"{apiUrl}/api/auth.test");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", slack.BotToken);
        var (status, body, problem) = await SendAsync(Service, request, cancellationToken);
        if (problem is not null)
        {
            return new ChatServiceAnswer(Service, problem, "");
        }

        JsonNode? result = null;
        try
        {
            result = JsonNode.Parse(body);
        }
        catch (JsonException)
        {
        }

        if (status != 200 || result?["ok"] is not JsonValue ok || !ok.TryGetValue<bool>(out var succeeded))
        {
            return new ChatServiceAnswer(Service, $"auth.test answered {status} without Slack's JSON: check Notifications:Slack:ApiUrl.", "");
        }

        if (!succeeded)
        {
            var error = result["error"] is JsonValue e && e.TryGetValue<string>(out var code) ? code : "unknown_error";
            return new ChatServiceAnswer(Service, $"Slack refused the bot token ({error}): make a new one and set Notifications:Slack:BotToken.", "");
        }

        var team = (string?)result["team"];
        var user = (string?)result["user"];
        return new ChatServiceAnswer(Service, null, $"auth.test ok{(user is null ? "" : $" as {user}")}{(team is null ? "" : $" in {team}")}");
    }

    /// <summary>A GET of a webhook URL: posts nothing. Any answer but "not found" or "gone" shows the service is there.</summary>
    private async Task<ChatServiceAnswer> GetWebhookAsync(string service, string setting, string url, CancellationToken cancellationToken)
    {
        HttpRequestMessage request;
        try
        {
            request = new HttpRequestMessage(HttpMethod.Get, url);
        }
        catch (UriFormatException)
        {
            return new ChatServiceAnswer(service, $"{setting} is not a URL.", "");
        }

        var (status, _, problem) = await SendAsync(service, request, cancellationToken);
        if (problem is not null)
        {
            return new ChatServiceAnswer(service, problem, "");
        }

        return status switch
        {
            (int)HttpStatusCode.NotFound or (int)HttpStatusCode.Gone or (int)HttpStatusCode.Unauthorized or (int)HttpStatusCode.Forbidden =>
                new ChatServiceAnswer(service, $"the webhook answered {status}: it was probably deleted or revoked; make a new one and set {setting}.", ""),
            >= 500 => new ChatServiceAnswer(service, $"the service answered {status}: it has trouble right now; try again later.", ""),
            _ => new ChatServiceAnswer(service, null, $"answers (HTTP {status} to a GET, which posts nothing)"),
        };
    }

    private async Task<ChatServiceAnswer> AuthenticatedAsync(string service, string setting, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var (status, _, problem) = await SendAsync(service, request, cancellationToken);
        return problem is not null ? new ChatServiceAnswer(service, problem, "")
            : status is >= 200 and < 300 ? new ChatServiceAnswer(service, null, $"answers (HTTP {status})")
            : status is 401 or 403 ? new ChatServiceAnswer(service, $"the service refused the credentials ({status}): check {setting}.", "")
            : new ChatServiceAnswer(service, $"the service answered {status}: check {setting}.", "");
    }

    private async Task<(int Status, string Body, string? Problem)> SendAsync(string service, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var client = clients.CreateClient(NotifierHttp.ClientName);
        try
        {
            using (request)
            using (var response = await client.SendAsync(request, cancellationToken))
            {
                return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken), null);
            }
        }
        catch (HttpRequestException e)
        {
            // The message names the host at most, never the URL's path (where webhook secrets are).
            return (0, "", $"{service} could not be reached ({e.HttpRequestError}): check the network and the setting.");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (0, "", $"{service} did not answer within {options.RequestTimeout.TotalSeconds:0} s (Notifications:RequestTimeout).");
        }
    }
}
