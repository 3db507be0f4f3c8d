using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Heaven.GitHub;
using Microsoft.Extensions.Options;

namespace Heaven.Access;

/// <summary>A signed-in user as GitHub describes them: login, id, organizations and teams.</summary>
internal sealed record GitHubIdentity(string Login, long Id, IReadOnlyList<string> Organizations, IReadOnlyList<GitHubTeam> Teams);

internal sealed record GitHubTeam(string Organization, string Slug, long Id);

/// <summary>
/// The few REST calls sign-in and permissions need, made directly (not through Octokit): with the
/// signing-in user's token (who they are, their organizations and teams) or with Heaven's own token
/// (a user's permission on a repository).
/// </summary>
internal sealed class GitHubUserApi(IHttpClientFactory clients, IOptions<GitHubOptions> options)
{
    public const string ClientName = "Heaven.Access.GitHub";

    /// <summary>At most this many pages of organizations or teams are read (100 each).</summary>
    private const int MaxPages = 10;

    public async Task<GitHubIdentity> GetIdentityAsync(string userToken, bool withOrganizations, bool withTeams, CancellationToken cancellationToken)
    {
        using var user = await GetJsonAsync("user", userToken, cancellationToken)
            ?? throw new HttpRequestException("GitHub did not find the signed-in user.");
        var login = user.RootElement.GetProperty("login").GetString() ?? throw new HttpRequestException("GitHub's user has no login.");
        var id = user.RootElement.GetProperty("id").GetInt64();
        var organizations = new List<string>();
        if (withOrganizations)
        {
            await foreach (var org in PagesAsync("user/orgs?per_page=100", userToken, cancellationToken))
            {
                if (org.TryGetProperty("login", out var name) && name.GetString() is { } orgLogin)
                {
                    organizations.Add(orgLogin);
                }
            }
        }

        var teams = new List<GitHubTeam>();
        if (withTeams)
        {
            await foreach (var team in PagesAsync("user/teams?per_page=100", userToken, cancellationToken))
            {
                var org = team.TryGetProperty("organization", out var o) && o.ValueKind == JsonValueKind.Object && o.TryGetProperty("login", out var ol) ? ol.GetString() : null;
                var slug = team.TryGetProperty("slug", out var s) ? s.GetString() : null;
                var teamId = team.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt64() : 0;
                if (org is not null && slug is not null)
                {
                    teams.Add(new GitHubTeam(org, slug, teamId));
                }
            }
        }

        return new GitHubIdentity(login, id, organizations, teams);
    }

    /// <summary>GitHub's role of <paramref name="login"/> on <paramref name="repository"/> (<c>admin</c>, <c>maintain</c>, <c>write</c>, <c>triage</c>, <c>read</c>, <c>none</c>), asked with Heaven's token; null when GitHub knows no such repository or user.</summary>
    public async Task<string?> GetRoleAsync(string repository, string login, CancellationToken cancellationToken)
    {
        var parts = repository.Split('/');
        var path = $"repos/{Uri.EscapeDataString(parts[0])}/{Uri.EscapeDataString(parts[1])}/collaborators/{Uri.EscapeDataString(login)}/permission";
        using var answer = await GetJsonAsync(path, options.Value.Token, cancellationToken);
        if (answer is null)
        {
            return null;
        }

        var root = answer.RootElement;
        // role_name names maintain and triage, which permission folds into write and read.
        return (root.TryGetProperty("role_name", out var role) ? role.GetString() : null)
            ?? (root.TryGetProperty("permission", out var permission) ? permission.GetString() : null);
    }

    private async IAsyncEnumerable<JsonElement> PagesAsync(string first, string token, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var next = first;
        for (var page = 0; next is not null && page < MaxPages; page++)
        {
            using var request = Request(next, token);
            using var response = await Client().SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
            foreach (var item in document.RootElement.EnumerateArray())
            {
                yield return item.Clone();
            }

            next = NextLink(response);
        }
    }

    private async Task<JsonDocument?> GetJsonAsync(string path, string? token, CancellationToken cancellationToken)
    {
        using var request = Request(path, token);
        using var response = await Client().SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
    }

    private HttpRequestMessage Request(string pathOrUrl, string? token)
    {
        // GitHub's next-page links are absolute; they must stay on the API's server, where the token goes.
        var apiBase = new Uri(options.Value.ApiUrl.TrimEnd('/') + "/");
        var target = new Uri(apiBase, pathOrUrl);
        if (!string.Equals(target.Authority, apiBase.Authority, StringComparison.OrdinalIgnoreCase) || target.Scheme != apiBase.Scheme)
        {
            throw new HttpRequestException("GitHub pointed to another server; the token is sent only to GitHub:ApiUrl.");
        }

        var request = new HttpRequestMessage(HttpMethod.Get, target);
        request.Headers.Accept.ParseAdd("application/vnd.github+json");
        request.Headers.Add("X-GitHub-Api-Version", "2022-11-28");
        request.Headers.UserAgent.ParseAdd("Heaven");
        if (!string.IsNullOrEmpty(token))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }

    private HttpClient Client() => clients.CreateClient(ClientName);

    private static string? NextLink(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var values))
        {
            return null;
        }

        foreach (var part in string.Join(',', values).Split(','))
        {
            var pieces = part.Split(';');
            if (pieces.Length >= 2 && pieces.Skip(1).Any(p => p.Trim() == "rel=\"next\""))
            {
                return pieces[0].Trim().TrimStart('<').TrimEnd('>');
            }
        }

        return null;
    }
}
