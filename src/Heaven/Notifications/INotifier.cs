using System.Net;

namespace Heaven.Notifications;

/// <summary>One chat service. Implementations format the message their service's way and post it.</summary>
internal interface INotifier
{
    /// <summary>A short stable name ("slack"): part of the work item kind, so it must not change.</summary>
    string Name { get; }

    /// <summary>True when the settings this service needs are present.</summary>
    bool IsConfigured { get; }

    /// <summary>Posts the message. Throws <see cref="NotifierException"/> when the service refuses or fails.</summary>
    Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken);
}

/// <summary>A chat service did not take a message. <see cref="Permanent"/>: trying again would not help.</summary>
internal sealed class NotifierException(string message, bool permanent, Exception? inner = null) : Exception(message, inner)
{
    public bool Permanent { get; } = permanent;

    /// <summary>How long the service asked to be left alone (<c>Retry-After</c>), when it said.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>The HTTP plumbing all webhook-style notifiers share.</summary>
internal static class NotifierHttp
{
    public const string ClientName = "Heaven.Notifications";

    /// <summary>
    /// Sends, and turns the answer into its body (on success) or a <see cref="NotifierException"/>.
    /// The message names the service and the status, never the URL (webhook URLs are secrets).
    /// </summary>
    public static async Task<NotifierAnswer> SendAsync(IHttpClientFactory clients, string service, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var client = clients.CreateClient(ClientName);
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new NotifierException($"{service} could not be reached: {e.Message}", permanent: false, e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NotifierException($"{service} did not answer in time.", permanent: false, e);
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var retryAfter = RetryAfter(response);
            if (response.IsSuccessStatusCode)
            {
                return new NotifierAnswer(body, retryAfter);
            }

            var code = (int)response.StatusCode;
            // 408, 429 and 5xx are the service's momentary trouble; any other 4xx is about the request
            // or the URL (revoked webhook, unknown room) and would fail the same way every time.
            var permanent = code is >= 400 and < 500 && response.StatusCode is not (HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests);
            var detail = body.Length > 200 ? body[..200] + "…" : body;
            throw new NotifierException($"{service} answered {code} {response.ReasonPhrase}{(detail.Length > 0 ? ": " + detail.Trim() : string.Empty)}", permanent)
            {
                RetryAfter = retryAfter,
            };
        }
    }

    /// <summary>Retry-After in seconds, the form chat services send; the rare date form leaves the usual backoff in charge.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter?.Delta;
}

/// <summary>A chat service's 2xx answer: its body, and Retry-After when it sent one (Slack's API answers errors with 200).</summary>
internal sealed record NotifierAnswer(string Body, TimeSpan? RetryAfter);
