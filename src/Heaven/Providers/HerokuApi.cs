using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Execution;

namespace Heaven.Providers;

/// <summary>A Heroku build as the Platform API describes it: <c>pending</c>, <c>succeeded</c> or <c>failed</c>.</summary>
internal sealed record HerokuBuild(string Id, string Status, Uri? OutputStreamUrl)
{
    public bool Finished => Status is not "pending";
}

/// <summary>Heroku refused, or could not be reached after the retries. The message is safe to show: no key in it.</summary>
internal sealed class HerokuApiException(string message) : Exception(message);

/// <summary>
/// The three Platform API calls the heroku provider makes: create a build, read a build, follow its
/// output stream. The key goes into the Authorization header of requests to the API and nowhere else
/// (the output stream lives on another host and is addressed by its own unguessable URL).
/// </summary>
/// <remarks>
/// Requests Heroku answered 5xx or 429 are retried a few times with a doubling wait (Retry-After
/// honoured, within a cap). Creating a build is not idempotent: it is retried only when Heroku
/// certainly did not start one (429, 503, or no connection at all), never after a 500 or a timeout,
/// which could deploy the same commit twice.
/// </remarks>
internal sealed class HerokuApi
{
    /// <summary>The name of the <see cref="IHttpClientFactory"/> client the provider uses.</summary>
    public const string HttpClientName = "heroku";

    /// <summary>Version 3 of the Platform API, as its documentation asks every request to say.</summary>
    public const string MediaType = "application/vnd.heroku+json; version=3";

    private const int MaxAttempts = 4;
    private const int MaxLineLength = 64 * 1024;
    private static readonly TimeSpan RetryCap = TimeSpan.FromSeconds(30);

    private readonly HttpClient http;
    private readonly Uri baseUrl;
    private readonly string apiKey;
    private readonly HerokuOptions options;
    private readonly TimeProvider time;
    private readonly Func<string, CancellationToken, ValueTask> note;

    /// <param name="note">Where a retry is told (the deployment's log).</param>
    public HerokuApi(HttpClient http, HerokuOptions options, string apiKey, TimeProvider time, Func<string, CancellationToken, ValueTask> note)
    {
        this.http = http;
        this.options = options;
        this.apiKey = apiKey;
        this.time = time;
        this.note = note;
        baseUrl = new Uri(options.ApiUrl.TrimEnd('/') + "/");
    }

    public static void AddHttpClient(IServiceCollection services) =>
        // The output stream stays open as long as the build runs: no client-wide timeout (each API
        // request has its own). No redirects: the Authorization header must reach Heroku's API only.
        // No factory request logging: the stream's URL is its only protection.
        services.AddHttpClient(HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false })
            .RemoveAllLoggers();

    public async Task<HerokuBuild> CreateBuildAsync(string app, Uri sourceUrl, string version, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["source_blob"] = new JsonObject { ["url"] = sourceUrl.AbsoluteUri, ["version"] = version },
        };
        var text = await SendAsync(HttpMethod.Post, $"apps/{Uri.EscapeDataString(app)}/builds", body.ToJsonString(), $"Creating a build for Heroku app {app}", cancellationToken);
        return ParseBuild(text, $"Creating a build for Heroku app {app}");
    }

    public async Task<HerokuBuild> GetBuildAsync(string app, string id, CancellationToken cancellationToken)
    {
        var text = await SendAsync(HttpMethod.Get, $"apps/{Uri.EscapeDataString(app)}/builds/{Uri.EscapeDataString(id)}", null, $"Reading Heroku build {id}", cancellationToken);
        return ParseBuild(text, $"Reading Heroku build {id}");
    }

    /// <summary>
    /// Reads the build's output as Heroku writes it, handing on each line as soon as it is complete;
    /// returns when Heroku ends the stream (it does when the build ends).
    /// </summary>
    public async Task StreamOutputAsync(Uri url, Func<string, CancellationToken, ValueTask> onLine, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.UserAgent.ParseAdd("Heaven");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HerokuApiException($"the build output stream answered {(int)response.StatusCode}");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var splitter = new LineSplitter(MaxLineLength);
        var buffer = new byte[16 * 1024];
        var lines = new List<string>();
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            splitter.Push(buffer.AsSpan(0, read), lines);
            foreach (var line in lines)
            {
                await onLine(line, cancellationToken);
            }

            lines.Clear();
        }

        splitter.Finish(lines);
        foreach (var line in lines)
        {
            await onLine(line, cancellationToken);
        }
    }

    private async Task<string> SendAsync(HttpMethod method, string path, string? body, string what, CancellationToken cancellationToken)
    {
        var idempotent = method == HttpMethod.Get;
        for (var attempt = 1; ; attempt++)
        {
            string failure;
            bool retry;
            TimeSpan? retryAfter = null;
            using (var timeout = new CancellationTokenSource(options.RequestTimeout, time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token))
            using (var request = new HttpRequestMessage(method, new Uri(baseUrl, path)))
            {
                request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse(MediaType));
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
                request.Headers.UserAgent.ParseAdd("Heaven");
                if (body is not null)
                {
                    request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                }

                try
                {
                    using var response = await http.SendAsync(request, linked.Token);
                    var text = await response.Content.ReadAsStringAsync(linked.Token);
                    if (response.IsSuccessStatusCode)
                    {
                        return text;
                    }

                    var status = (int)response.StatusCode;
                    retry = status == 429 || status == 503 || (idempotent && status >= 500);
                    retryAfter = RetryAfter(response);
                    failure = Refusal(what, status, text);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = $"{what}: Heroku did not answer within {options.RequestTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s";
                    retry = idempotent;
                }
                catch (HttpRequestException e)
                {
                    failure = $"{what}: Heroku could not be reached ({e.Message})";
                    // Without a connection no build can have been started.
                    retry = idempotent || e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError;
                }
            }

            if (!retry || attempt >= MaxAttempts)
            {
                throw new HerokuApiException(failure);
            }

            var backoff = TimeSpan.FromTicks(Math.Min(options.RetryBase.Ticks << (attempt - 1), RetryCap.Ticks));
            var wait = retryAfter is { } asked && asked > backoff ? (asked < RetryCap ? asked : RetryCap) : backoff;
            await note($"{failure}; retrying in {wait.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s", cancellationToken);
            await Task.Delay(wait, time, cancellationToken);
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - time.GetUtcNow() > TimeSpan.Zero ? date - time.GetUtcNow() : TimeSpan.Zero,
            _ => null,
        };

    /// <summary>Heroku's refusal in words: its error id and message, clamped.</summary>
    private static string Refusal(string what, int status, string body)
    {
        string? id = null;
        string? message = null;
        try
        {
            if (JsonNode.Parse(body) is JsonObject error)
            {
                id = (error["id"] as JsonValue)?.TryGetValue<string>(out var i) == true ? i : null;
                message = (error["message"] as JsonValue)?.TryGetValue<string>(out var m) == true ? m : null;
            }
        }
        catch (JsonException)
        {
            // Not Heroku's JSON (a proxy's error page): the status says enough.
        }

        var said = string.Join(": ", new[] { id, message }.Where(s => !string.IsNullOrWhiteSpace(s)));
        if (said.Length > 200)
        {
            said = said[..199] + "…";
        }

        var detail = said.Length > 0 ? $" ({said})" : "";
        return status switch
        {
            (int)HttpStatusCode.Unauthorized => $"Heroku refused the API key (401{(said.Length > 0 ? ": " + said : "")}); check Providers:Heroku:ApiKey (or HEROKU_API_KEY)",
            _ => $"{what}: Heroku answered {status}{detail}",
        };
    }

    private static HerokuBuild ParseBuild(string text, string what)
    {
        try
        {
            if (JsonNode.Parse(text) is JsonObject build
                && (build["id"] as JsonValue)?.TryGetValue<string>(out var id) == true
                && (build["status"] as JsonValue)?.TryGetValue<string>(out var status) == true)
            {
                var stream = (build["output_stream_url"] as JsonValue)?.TryGetValue<string>(out var s) == true
                    && Uri.TryCreate(s, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
                    ? url
                    : null;
                return new HerokuBuild(id, status, stream);
            }
        }
        catch (JsonException)
        {
        }

        throw new HerokuApiException($"{what}: Heroku's answer is not a build");
    }
}
