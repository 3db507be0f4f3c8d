using System.Net.Http.Headers;
using System.Text.Json;
using Heaven.Tests.Infrastructure;

namespace Heaven.Bench.Deploy;

/// <summary>
/// Viewers of a deployment's live log over Server-Sent Events, signed in with a bearer token (the API
/// requires sign-in). Every request goes through <see cref="Request"/>, the one place it is added.
/// </summary>
internal sealed class LogViewers(Uri baseAddress, string bearerToken)
{
    public LogViewers(HeavenServer server, string bearerToken)
        : this(server.BaseAddress, bearerToken)
    {
    }

    /// <summary>The read token the viewers use, for viewers started in another process.</summary>
    public string Token => bearerToken;

    public Uri BaseAddress => baseAddress;

    /// <summary>
    /// Viewers with the token in <c>HEAVEN_BENCH_TOKEN</c>, or else with a read token made for the
    /// occasion against the server's own data directory (the API requires sign-in).
    /// </summary>
    public static async Task<LogViewers> SignedInAsync(HeavenServer server, CancellationToken cancellationToken)
    {
        var token = Environment.GetEnvironmentVariable("HEAVEN_BENCH_TOKEN") is { Length: > 0 } given
            ? given
            : await server.CreateTokenAsync("bench-live-log", "read", cancellationToken);
        return new LogViewers(server, token);
    }

    private readonly HttpClient http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 1000, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
    {
        BaseAddress = baseAddress,
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public HttpRequestMessage Request(long deploymentId, long? lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/deployments/{deploymentId}/log");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is { } last)
        {
            request.Headers.Add("Last-Event-ID", last.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);

        return request;
    }

    /// <summary>
    /// Follows the log until its <c>end</c> event (or <paramref name="cancellationToken"/>), calling
    /// <paramref name="onLine"/> with each line's number and data; after <paramref name="dropAfter"/>
    /// lines it drops the connection once and resumes with <c>Last-Event-ID</c>, as a browser does. A
    /// <c>gap</c> event (lines left out of a flood) is passed on with a negative number: minus the lines it names.
    /// </summary>
    public async Task<bool> FollowAsync(long deploymentId, Action<long, string> onLine, long? dropAfter, CancellationToken cancellationToken, Action? onConnected = null)
    {
        long? last = null;
        var dropped = dropAfter is null;
        while (true)
        {
            using var response = await http.SendAsync(Request(deploymentId, last), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            response.EnsureSuccessStatusCode();
            onConnected?.Invoke();
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var reconnect = false;
            await foreach (var item in ServerSentEvents.ReadAsync(body, cancellationToken))
            {
                if (item.Event == "end")
                {
                    return true;
                }

                var number = long.Parse(item.Id!, System.Globalization.CultureInfo.InvariantCulture);
                if (item.Event == "gap")
                {
                    using var gap = JsonDocument.Parse(item.Data);
                    onLine(-gap.RootElement.GetProperty("skipped").GetInt64(), item.Data);
                }
                else
                {
                    onLine(number, item.Data);
                }

                last = number;
                if (!dropped && number + 1 >= dropAfter)
                {
                    dropped = true;
                    reconnect = true;
                    break;
                }
            }

            if (!reconnect)
            {
                return false;
            }
        }
    }

    /// <summary>The text of a <c>line</c> event's data.</summary>
    public static string Text(string data)
    {
        using var json = JsonDocument.Parse(data);
        return json.RootElement.GetProperty("text").GetString()!;
    }
}
