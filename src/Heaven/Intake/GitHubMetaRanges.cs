using System.Net.Http.Headers;
using System.Text.Json;
using Heaven.GitHub;
using Microsoft.Extensions.Options;

namespace Heaven.Intake;

/// <summary>
/// GitHub's webhook source ranges (the <c>hooks</c> list of <c>GET /meta</c>), read from the GitHub that
/// <c>GitHub:ApiUrl</c> names, kept in memory for <c>Webhooks:MetaRefreshInterval</c> and saved to the
/// data directory as a last-known-good copy. A failed refresh keeps the ranges already known: GitHub's
/// ranges change rarely, and a brief /meta outage must not turn every webhook away.
/// </summary>
internal sealed partial class GitHubMetaRanges(
    IHttpClientFactory httpClients,
    SavedHookRanges saved,
    IOptions<GitHubOptions> gitHub,
    IOptions<WebhookOptions> webhooks,
    TimeProvider time,
    ILogger<GitHubMetaRanges> logger)
{
    public const string HttpClientName = "GitHubMeta";

    /// <summary>The first webhook after the ranges expire waits for this fetch, and GitHub waits 10 s for its answer.</summary>
    public static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(5);

    /// <summary>After a failed fetch, how long the known ranges (or their absence) stand before the next try.</summary>
    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(30);

    /// <summary>github.com's /meta is a few hundred kilobytes; anything far larger is not /meta.</summary>
    private const long MaxAnswerBytes = 16 * 1024 * 1024;

    private readonly SemaphoreSlim refreshing = new(1, 1);
    private volatile State state = new(null, DateTimeOffset.MinValue, Failing: false);
    private Uri? metaUrl;

    private Uri MetaUrl => metaUrl ??= MetaUrlFor(gitHub.Value.ApiUrl);

    public static void AddHttpClient(IServiceCollection services) =>
        services.AddHttpClient(HttpClientName, client =>
            {
                client.Timeout = FetchTimeout;
                client.MaxResponseContentBufferSize = MaxAnswerBytes;
                // GitHub refuses API requests without a User-Agent.
                client.DefaultRequestHeaders.UserAgent.ParseAdd("Heaven");
                client.DefaultRequestHeaders.Accept.ParseAdd("application/vnd.github+json");
            })
            // The factory's own request logging is not needed (this class logs what matters) and would
            // otherwise be one more place a header could be written out.
            .RemoveAllLoggers();

    /// <summary>
    /// Where <c>/meta</c> is for a configured API URL, by Octokit's rule so it is the same GitHub that
    /// every other call goes to: github.com is api.github.com; any other host (GitHub Enterprise, a test
    /// fake) serves its REST API under <c>/api/v3</c> at the root. User info in the URL is dropped.
    /// </summary>
    public static Uri MetaUrlFor(string apiUrl)
    {
        var api = new Uri(apiUrl, UriKind.Absolute);
        if (api.Host is "github.com" or "api.github.com")
        {
            return new Uri("https://api.github.com/meta");
        }

        return new Uri(api.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped) + "/api/v3/meta");
    }

    /// <summary>The current ranges, refreshed when due; null when they have never been obtained.</summary>
    public async ValueTask<HookRanges?> GetAsync(CancellationToken cancellationToken)
    {
        var known = state;
        if (time.GetUtcNow() < known.RefreshDue)
        {
            return known.Ranges;
        }

        if (known.Ranges is not null)
        {
            // With ranges in hand, one request refreshes and the others go on with what is known
            // rather than queue behind it.
            if (!await refreshing.WaitAsync(0, cancellationToken))
            {
                return known.Ranges;
            }
        }
        else
        {
            // Nothing known yet: every request waits for the one fetch in flight instead of starting its own.
            await refreshing.WaitAsync(cancellationToken);
        }

        try
        {
            if (time.GetUtcNow() < state.RefreshDue)
            {
                return state.Ranges;
            }

            await RefreshAsync(cancellationToken);
            return state.Ranges;
        }
        finally
        {
            refreshing.Release();
        }
    }

    /// <summary>Runs under <see cref="refreshing"/>: the only writer of <see cref="state"/>.</summary>
    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var url = MetaUrl;
        var interval = webhooks.Value.MetaRefreshInterval;
        List<string> hooks;
        HookRanges ranges;
        try
        {
            hooks = await FetchAsync(url, cancellationToken);
            ranges = HookRanges.Parse(hooks, out var unreadable);
            if (unreadable.Count > 0)
            {
                Log.UnreadableRanges(logger, unreadable.Count, url);
            }

            if (ranges.Count == 0)
            {
                throw new MetaUnreadableException("its answer lists no hooks ranges");
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Whatever went wrong, the known ranges stay and the next try waits: a failure must
            // neither drop good ranges nor send every delivery to GitHub again.
            var problem = e switch
            {
                MetaUnreadableException or HttpRequestException => e.Message,
                TaskCanceledException => $"GitHub did not answer within {FetchTimeout.TotalSeconds:0} seconds",
                JsonException => "its answer is not the JSON document /meta returns",
                _ => e.GetType().Name,
            };
            await KeepWhatIsKnownAsync(url, problem, interval, cancellationToken);
            return;
        }

        var now = time.GetUtcNow();
        var worthSaying = state.Ranges is null || state.Failing;
        state = new State(ranges, now + interval, Failing: false);
        if (worthSaying)
        {
            Log.Fetched(logger, ranges.Count, url);
        }

        await SaveAsync(new SavedMeta(url.AbsoluteUri, now, hooks), cancellationToken);
    }

    /// <summary>After a failed fetch: the ranges in memory, else the saved copy, else none (fail closed).</summary>
    private async Task KeepWhatIsKnownAsync(Uri url, string problem, TimeSpan interval, CancellationToken cancellationToken)
    {
        var retryAt = time.GetUtcNow() + (interval < RetryAfterFailure ? interval : RetryAfterFailure);
        if (state.Ranges is { } known)
        {
            Log.RefreshFailed(logger, url, problem, known.Count);
            state = state with { RefreshDue = retryAt, Failing = true };
            return;
        }

        var fromFile = await LoadSavedAsync(url, cancellationToken);
        if (fromFile is not null)
        {
            Log.UsingSaved(logger, url, problem, fromFile.Value.Ranges.Count, saved.FilePath, fromFile.Value.FetchedAt);
            state = new State(fromFile.Value.Ranges, retryAt, Failing: true);
            return;
        }

        Log.NoRanges(logger, url, problem, saved.FilePath);
        state = new State(null, retryAt, Failing: true);
    }

    private async Task<List<string>> FetchAsync(Uri url, CancellationToken cancellationToken)
    {
        using var client = httpClients.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (gitHub.Value.Token is { Length: > 0 } token)
        {
            // /meta needs no token, but an authenticated request has a far larger rate limit.
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new MetaUnreadableException($"GitHub answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }

        var document = await response.Content.ReadFromJsonAsync(MetaJson.Default.MetaDocument, cancellationToken);
        return document?.Hooks ?? throw new MetaUnreadableException("its answer has no hooks list");
    }

    private async Task SaveAsync(SavedMeta meta, CancellationToken cancellationToken)
    {
        try
        {
            await saved.SaveAsync(meta, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The ranges in memory are good; only a restart during a /meta outage would miss the copy.
            Log.SaveFailed(logger, saved.FilePath, e.Message);
        }
    }

    private async Task<(HookRanges Ranges, DateTimeOffset FetchedAt)?> LoadSavedAsync(Uri url, CancellationToken cancellationToken)
    {
        try
        {
            if (await saved.LoadAsync(url, cancellationToken) is not { } meta)
            {
                return null;
            }

            var ranges = HookRanges.Parse(meta.Hooks, out _);
            return ranges.Count > 0 ? (ranges, meta.FetchedAt) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            Log.LoadFailed(logger, saved.FilePath, e.GetType().Name);
            return null;
        }
    }

    /// <summary>The ranges known (null: never obtained), when to try to refresh them, and whether the last try failed.</summary>
    private sealed record State(HookRanges? Ranges, DateTimeOffset RefreshDue, bool Failing);

    private sealed class MetaUnreadableException(string message) : Exception(message);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Read {Count} webhook source ranges from {Url}")]
        public static partial void Fetched(ILogger logger, int count, Uri url);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} of the hooks ranges from {Url} are not CIDR ranges and were skipped")]
        public static partial void UnreadableRanges(ILogger logger, int count, Uri url);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not refresh GitHub's webhook source ranges from {Url} ({Problem}); still using the {Count} ranges read before")]
        public static partial void RefreshFailed(ILogger logger, Uri url, string problem, int count);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read GitHub's webhook source ranges from {Url} ({Problem}); using the last known good copy of {Count} ranges in {File}, read at {FetchedAt}")]
        public static partial void UsingSaved(ILogger logger, Uri url, string problem, int count, string file, DateTimeOffset fetchedAt);

        [LoggerMessage(Level = LogLevel.Error, Message = "Could not read GitHub's webhook source ranges from {Url} ({Problem}) and {File} holds no saved copy for it: webhooks are answered 503 until /meta can be read (Webhooks:VerifySourceAddress is on)")]
        public static partial void NoRanges(ILogger logger, Uri url, string problem, string file);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not save GitHub's webhook source ranges to {File}: {Problem}")]
        public static partial void SaveFailed(ILogger logger, string file, string problem);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the saved webhook source ranges in {File} ({Problem}); ignoring them")]
        public static partial void LoadFailed(ILogger logger, string file, string problem);
    }
}
