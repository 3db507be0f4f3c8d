using System.Net;

namespace Heaven.GitHub;

/// <summary>
/// What <c>GET /user</c> says about the configured token: whether GitHub takes it, whose it is, the
/// scopes of a classic token (<c>X-OAuth-Scopes</c>; absent for fine-grained and app tokens) and
/// GitHub's clock (<c>Date</c>).
/// </summary>
/// <param name="Status">The HTTP status GitHub answered.</param>
/// <param name="Scopes">The classic token's scopes as GitHub lists them, or null when GitHub sent no list.</param>
public sealed record GitHubTokenCheck(int Status, string? Login, string? Scopes, DateTimeOffset? ServerDate, string? Message);

public sealed partial class OctokitGitHub
{
    /// <summary>
    /// Asks GitHub who the token belongs to. Throws <see cref="GitHubTransientException"/> when GitHub
    /// cannot be reached; any answer, a refusal included, is returned for the caller to explain.
    /// </summary>
    public async Task<GitHubTokenCheck> CheckTokenAsync(CancellationToken cancellationToken)
    {
        var url = new Uri(client.Connection.BaseAddress, "user");
        RawResponse response;
        try
        {
            response = await SendRawAsync(HttpMethod.Get, url, null, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new GitHubTransientException(Redact($"GitHub could not be reached at {client.Connection.BaseAddress} ({e.Message})."), null, e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new GitHubTransientException($"GitHub did not answer within {requestTimeout.TotalSeconds:0} s at {client.Connection.BaseAddress}.", null, e);
        }

        response.Headers.TryGetValue("X-OAuth-Scopes", out var scopes);
        DateTimeOffset? date = response.Headers.TryGetValue("Date", out var dateText)
            && DateTimeOffset.TryParse(dateText, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : null;
        string? login = null;
        string? message = null;
        try
        {
            var body = System.Text.Json.Nodes.JsonNode.Parse(response.Body);
            login = (string?)body?["login"];
            message = (string?)body?["message"];
        }
        catch (System.Text.Json.JsonException)
        {
            // Not GitHub's JSON (a proxy's page): the status says enough.
        }

        return new GitHubTokenCheck(response.Status, login, scopes, date, message is null ? null : Redact(message));
    }

    public async Task DeleteGistAsync(string gistId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(gistId);
        var url = new Uri(client.Connection.BaseAddress, $"gists/{Uri.EscapeDataString(gistId)}");
        await CallAsync<bool>(
            $"Deleting gist {gistId}",
            async () =>
            {
                var response = await SendRawAsync(HttpMethod.Delete, url, null, cancellationToken);
                // Already gone (deleted by hand, or an earlier attempt whose answer was lost) is what was asked for.
                if (response.Status is >= 200 and < 300 || response.Status == (int)HttpStatusCode.NotFound)
                {
                    return true;
                }

                throw response.ToApiException();
            },
            cancellationToken);
    }
}
