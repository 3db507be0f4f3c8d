using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Heaven.Telemetry;
using Microsoft.Extensions.Options;
using Octokit;

namespace Heaven.GitHub;

/// <summary>
/// <see cref="IGitHub"/> over Octokit. Octokit neither retries nor waits out rate limits, so this
/// adapter only sorts failures into "try again later" (<see cref="GitHubTransientException"/>, with
/// the wait GitHub asked for) and "will never work" (<see cref="GitHubRejectedException"/>); the
/// status outbox does the retrying. Messages never carry the token: it lives only in Octokit's
/// credential store, which puts it into the Authorization header and nowhere else.
/// </summary>
public sealed partial class OctokitGitHub : IGitHub, IGitHubRepositoryApi
{
    /// <summary>GitHub's limit for a deployment status description.</summary>
    public const int MaxDescriptionLength = 140;

    /// <summary>
    /// Statuses such as in_progress and queued once needed preview media types; the current REST
    /// media type covers them on github.com and supported GitHub Enterprise versions.
    /// </summary>
    private const string Accepts = "application/vnd.github+json";

    // Octokit defaults request bodies to form-urlencoded; GitHub tolerates that, a strict proxy may not.
    private const string JsonContentType = "application/json";

    /// <summary>GitHub's advice for a secondary rate limit that names no time: wait at least a minute.</summary>
    private static readonly TimeSpan SecondaryRateLimitWait = TimeSpan.FromMinutes(1);

    private readonly GitHubClient client;
    private readonly HttpClient rest;
    private readonly string? token;
    private readonly TimeSpan requestTimeout;
    private readonly TimeProvider time;
    private readonly HeavenMetrics? metrics;

    public OctokitGitHub(IOptions<GitHubOptions> options, TimeProvider time, HeavenMetrics? metrics = null)
    {
        this.metrics = metrics;
        var settings = options.Value;
        token = string.IsNullOrEmpty(settings.Token) ? null : settings.Token;
        requestTimeout = settings.RequestTimeout;
        this.time = time;

        // Octokit turns any host other than github.com into <host>/api/v3/ (GitHub Enterprise's
        // layout), which is also where the test fake listens.
        client = new GitHubClient(new ProductHeaderValue("Heaven"), new Uri(settings.ApiUrl));
        if (token is not null)
        {
            client.Credentials = new Credentials(token);
        }

        client.SetRequestTimeout(requestTimeout);

        // Calls whose exact JSON matters (nested payloads, which Octokit's models flatten to strings)
        // and the tarball link (Octokit follows redirects and has no call that returns one) go
        // through this client, which stops at a 302. It lives as long as this singleton.
        rest = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = requestTimeout,
        };
    }

    public async Task CreateDeploymentStatusAsync(string repository, long deploymentId, DeploymentStatusRequest status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(status);
        var (owner, name) = SplitRepository(repository);
        var body = new NewDeploymentStatus(ToOctokit(status.State))
        {
            Description = ClampDescription(status.Description),
            LogUrl = status.LogUrl,
            EnvironmentUrl = status.EnvironmentUrl,
            Environment = status.Environment,
        };
        await CallAsync(
            $"Posting the {StateName(status.State)} status of deployment {deploymentId} to {repository}",
            () => client.Connection.Post<DeploymentStatus>(ApiUrls.DeploymentStatuses(owner, name, deploymentId), body, Accepts, JsonContentType, (IDictionary<string, string>?)null, cancellationToken),
            cancellationToken);
    }

    public async Task<GistReference> CreateGistAsync(string description, IReadOnlyDictionary<string, string> files, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        // Dictionaries rather than Octokit's NewGist: its serializer writes the shape GitHub expects
        // only for IDictionary<string, object>, and this way the request is exactly what is written here.
        var body = new Dictionary<string, object?>
        {
            ["description"] = description,
            ["public"] = false,
            ["files"] = files.ToDictionary(f => f.Key, f => (object?)new Dictionary<string, object?> { ["content"] = f.Value }),
        };
        var response = await CallAsync(
            "Creating a gist",
            () => client.Connection.Post<Gist>(ApiUrls.Gist(), body, Accepts, JsonContentType, (IDictionary<string, string>?)null, cancellationToken),
            cancellationToken);
        var gist = response.Body;
        return new GistReference(gist.Id, gist.HtmlUrl);
    }

    public async Task UpdateGistAsync(string gistId, IReadOnlyDictionary<string, string?> files, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(gistId);
        ArgumentNullException.ThrowIfNull(files);
        var changes = new JsonObject();
        foreach (var (name, content) in files)
        {
            // GitHub deletes a file whose value is null.
            changes[name] = content is null ? null : new JsonObject { ["content"] = content };
        }

        // Octokit has no PATCH that takes a content type: a body it serializes itself goes out as
        // application/x-www-form-urlencoded. A body handed to it as HttpContent goes out as it is, so
        // the request is JSON, labelled as such, as GitHub's description of the endpoint says.
        // Not disposed here: Octokit's request message owns it and disposes it once sent.
        var body = JsonBody(new JsonObject { ["files"] = changes });

        // Octokit's PATCH takes no cancellation token; the request timeout bounds it, and the
        // caller stops waiting at once. Octokit parses the answer (the whole gist) for nothing, but
        // a plain request that discarded it measured worse in the output benchmark's peak memory
        // (bench/RESULTS.md), so this stays.
        await CallAsync(
            $"Updating gist {gistId}",
            () => client.Connection.Patch<Gist>(ApiUrls.Gist(gistId), body, Accepts).WaitAsync(cancellationToken),
            cancellationToken);
    }

    public async Task<Uri> GetTarballLinkAsync(string repository, string reference, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(reference);
        var (owner, name) = SplitRepository(repository);
        var path = string.Join('/', reference.Split('/').Select(Uri.EscapeDataString));
        var url = new Uri(client.Connection.BaseAddress, $"repos/{owner}/{name}/tarball/{path}");
        return await CallAsync(
            $"Asking for the tarball of {repository} at {reference}",
            async () =>
            {
                var response = await SendRawAsync(HttpMethod.Get, url, null, cancellationToken);
                if (response.Status is >= 300 and < 400 && response.Location is { } location)
                {
                    return location.IsAbsoluteUri ? location : new Uri(url, location);
                }

                if (response.Status is >= 200 and < 300)
                {
                    throw new GitHubRejectedException($"Asking for the tarball of {repository} at {reference}: GitHub answered {response.Status} without a link to follow.", response.Status);
                }

                throw response.ToApiException();
            },
            cancellationToken);
    }

    /// <summary>GitHub's name for a state, as it appears in the API and in webhooks.</summary>
    public static string StateName(GitHubDeploymentState state) => state switch
    {
        GitHubDeploymentState.Pending => "pending",
        GitHubDeploymentState.Queued => "queued",
        GitHubDeploymentState.InProgress => "in_progress",
        GitHubDeploymentState.Success => "success",
        GitHubDeploymentState.Failure => "failure",
        GitHubDeploymentState.Error => "error",
        GitHubDeploymentState.Inactive => "inactive",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown deployment state."),
    };

    /// <summary>
    /// At most 140 characters, as GitHub counts them (code points, so a surrogate pair is never
    /// split); a cut one ends in "…" so readers know there was more.
    /// </summary>
    public static string ClampDescription(string description)
    {
        ArgumentNullException.ThrowIfNull(description);
        var runes = description.EnumerateRunes().ToList();
        if (runes.Count <= MaxDescriptionLength)
        {
            return description;
        }

        var builder = new StringBuilder(description.Length);
        foreach (var rune in runes.Take(MaxDescriptionLength - 1))
        {
            builder.Append(rune.ToString());
        }

        return builder.Append('…').ToString();
    }

    internal static (string Owner, string Name) SplitRepository(string repository)
    {
        var parts = repository?.Split('/') ?? [];
        if (parts.Length != 2 || parts.Any(p => p.Length == 0 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            throw new ArgumentException($"'{repository}' is not a GitHub repository name of the form owner/name.", nameof(repository));
        }

        return (parts[0], parts[1]);
    }

    private static DeploymentState ToOctokit(GitHubDeploymentState state) => state switch
    {
        GitHubDeploymentState.Pending => DeploymentState.Pending,
        GitHubDeploymentState.Queued => DeploymentState.Queued,
        GitHubDeploymentState.InProgress => DeploymentState.InProgress,
        GitHubDeploymentState.Success => DeploymentState.Success,
        GitHubDeploymentState.Failure => DeploymentState.Failure,
        GitHubDeploymentState.Error => DeploymentState.Error,
        GitHubDeploymentState.Inactive => DeploymentState.Inactive,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown deployment state."),
    };

    private async Task<T> CallAsync<T>(string what, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        if (token is null)
        {
            throw new GitHubRejectedException($"{what}: GitHub:Token (or GITHUB_TOKEN) is not set, so Heaven cannot call GitHub.", (int)HttpStatusCode.Unauthorized);
        }

        try
        {
            var result = await call();
            // GitHub sends the three rate-limit headers together; without them Octokit reads zeros.
            if (client.GetLastApiInfo()?.RateLimit is { ResetAsUtcEpochSeconds: > 0 } limit)
            {
                metrics?.GitHubRateLimitRemaining(limit.Remaining);
            }

            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (ApiException e)
        {
            ObserveRateLimit(e.HttpResponse?.Headers);
            throw Translate(what, e);
        }
        catch (HttpRequestException e)
        {
            throw new GitHubTransientException(Redact($"{what}: GitHub could not be reached ({e.Message})."), null, e);
        }
        catch (OperationCanceledException e)
        {
            // Not the caller's token: Octokit's request timeout fired.
            throw new GitHubTransientException($"{what}: GitHub did not answer within {requestTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s.", null, e);
        }
    }

    private Exception Translate(string what, ApiException e)
    {
        var status = (int)e.StatusCode;
        var headers = e.HttpResponse?.Headers;
        var said = GitHubMessage(e);
        var retryAfter = RetryAfterFrom(headers);
        var rateLimitExhausted = Header(headers, "X-RateLimit-Remaining") == "0";
        var rateLimitReset = rateLimitExhausted ? UntilReset(headers) : null;

        if (e is RateLimitExceededException or SecondaryRateLimitExceededException or AbuseException
            || status == 429
            || (status == 403 && (retryAfter is not null || rateLimitExhausted)))
        {
            // Retry-After is GitHub's explicit instruction; the reset time is when the quota refills.
            var wait = retryAfter ?? rateLimitReset ?? (e is AbuseException { RetryAfterSeconds: { } seconds } ? TimeSpan.FromSeconds(seconds) : null);
            if (wait is null && (e is SecondaryRateLimitExceededException or AbuseException || status == 403))
            {
                wait = SecondaryRateLimitWait;
            }

            var after = wait is { } w ? $"; retrying in {Math.Ceiling(w.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s" : "";
            return new GitHubTransientException(Redact($"{what}: GitHub rate-limited the request ({status}{said}){after}."), wait, e);
        }

        if (status >= 500 || status == 408)
        {
            return new GitHubTransientException(Redact($"{what}: GitHub answered {status}{said}."), retryAfter, e);
        }

        return new GitHubRejectedException(Redact($"{what}: GitHub refused with {status}{said}."), status, e);
    }

    /// <summary>" (message: first error)" from GitHub's error body, or "" when it said nothing useful.</summary>
    private static string GitHubMessage(ApiException e)
    {
        var parts = new List<string>();
        if (e.ApiError?.Message is { Length: > 0 } message)
        {
            parts.Add(message);
        }

        if (e.ApiError?.Errors?.FirstOrDefault() is { } first && (first.Message ?? (first.Field is null ? null : $"{first.Field} {first.Code}")) is { Length: > 0 } detail)
        {
            parts.Add(detail);
        }

        if (parts.Count == 0)
        {
            return "";
        }

        var text = string.Join(": ", parts);
        return " (" + (text.Length > 300 ? text[..299] + "…" : text) + ")";
    }

    private TimeSpan? RetryAfterFrom(IReadOnlyDictionary<string, string>? headers)
    {
        if (Header(headers, "Retry-After") is not { } value)
        {
            return null;
        }

        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }

        // RFC 9110 also allows an HTTP date.
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
        {
            return Max(date - time.GetUtcNow(), TimeSpan.Zero);
        }

        return null;
    }

    private TimeSpan? UntilReset(IReadOnlyDictionary<string, string>? headers)
    {
        if (Header(headers, "X-RateLimit-Reset") is { } value
            && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var epochSeconds))
        {
            return Max(DateTimeOffset.FromUnixTimeSeconds(epochSeconds) - time.GetUtcNow(), TimeSpan.Zero);
        }

        return null;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Records <c>X-RateLimit-Remaining</c> when a response carries it.</summary>
    private void ObserveRateLimit(IReadOnlyDictionary<string, string>? headers)
    {
        if (long.TryParse(Header(headers, "X-RateLimit-Remaining"), NumberStyles.None, CultureInfo.InvariantCulture, out var remaining))
        {
            metrics?.GitHubRateLimitRemaining(remaining);
        }
    }

    private static string? Header(IReadOnlyDictionary<string, string>? headers, string name)
    {
        if (headers is null)
        {
            return null;
        }

        foreach (var (key, value) in headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return value?.Trim();
            }
        }

        return null;
    }

    /// <summary>Belt and braces: GitHub never echoes the token, but nothing Heaven stores or logs may contain it.</summary>
    private string Redact(string message) =>
        token is null ? message : message.Replace(token, "***", StringComparison.Ordinal);

    /// <summary>A response read without Octokit, in the shape its exceptions (and <see cref="Translate"/>) read.</summary>
    private sealed class PlainResponse(HttpStatusCode statusCode, string body, IReadOnlyDictionary<string, string> headers, string contentType) : IResponse
    {
        public object Body => body;

        public IReadOnlyDictionary<string, string> Headers => headers;

        public ApiInfo? ApiInfo => null;

        public HttpStatusCode StatusCode => statusCode;

        public string ContentType => contentType;
    }
}
