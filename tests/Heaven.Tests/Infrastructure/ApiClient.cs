using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Heaven.Access;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// Every request a test makes to Heaven's JSON API (<c>/api/v1</c>) goes through here, so whatever
/// the API asks of a caller (a credential) is added in this one place.
/// </summary>
public sealed class ApiClient(HttpClient http, Func<CancellationToken, Task<string>>? credential = null)
{
    public const string Prefix = "/api/v1";

    private Task<string>? token;

    /// <summary>A client of <paramref name="host"/>'s API holding a token of <paramref name="scope"/>, made on first use.</summary>
    public static ApiClient For(HeavenTestHost host, TokenScope scope = TokenScope.Read) =>
        new(host.Client, async cancellationToken =>
        {
            var created = await host.Services.GetRequiredService<ApiTokens>()
                .CreateAsync($"test-{scope.ToString().ToLowerInvariant()}-{Guid.NewGuid():N}", scope, lifetime: null, createdBy: "tests", cancellationToken);
            return created.Text;
        });

    /// <summary>A client without credentials: what an anonymous caller gets.</summary>
    public static ApiClient Anonymous(HeavenTestHost host) => new(host.Client);

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead, CancellationToken cancellationToken = default)
    {
        if (request.RequestUri is { IsAbsoluteUri: false } relative && !relative.OriginalString.StartsWith(Prefix, StringComparison.Ordinal))
        {
            request.RequestUri = new Uri(Prefix + relative.OriginalString, UriKind.Relative);
        }

        if (credential is not null && request.Headers.Authorization is null)
        {
            token ??= credential(cancellationToken);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await token);
        }

        return await http.SendAsync(request, completion, cancellationToken);
    }

    /// <summary>GET <paramref name="path"/> (below /api/v1), asking for <paramref name="accept"/> when given.</summary>
    public Task<HttpResponseMessage> GetAsync(string path, string? accept = null, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (accept is not null)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        }

        return SendAsync(request, cancellationToken: cancellationToken);
    }

    /// <summary>Opens an event stream on <paramref name="path"/>, resuming after <paramref name="lastEventId"/> when given.</summary>
    public async Task<HttpResponseMessage> OpenEventStreamAsync(string path, string? lastEventId = null, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        return await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    /// <summary>The events of a stream on <paramref name="path"/>, until the server ends it.</summary>
    public async IAsyncEnumerable<ServerSentEvent> EventsAsync(string path, string? lastEventId = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var response = await OpenEventStreamAsync(path, lastEventId, cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await foreach (var item in ServerSentEvents.ReadAsync(body, cancellationToken))
        {
            yield return item;
        }
    }
}
