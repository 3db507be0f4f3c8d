using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;

namespace Heaven.Tests.Infrastructure;

/// <summary>A GitHub user of the fake OAuth server, with the organizations and teams GitHub would list for them.</summary>
public sealed record FakeGitHubUser(string Login, long Id, string[]? Organizations = null, (string Organization, string Slug, long Id)[]? Teams = null);

/// <summary>
/// GitHub's OAuth web flow and the user API, as a signed-in user sees them: <c>/login/oauth/authorize</c>
/// sends the browser straight back (as <see cref="OAuthUser"/>, who has approved the app before),
/// <c>/login/oauth/access_token</c> trades the code (checking client id, secret and PKCE) for a user token,
/// and <c>/user</c>, <c>/user/orgs</c>, <c>/user/teams</c> answer for the user of that token.
/// <c>/repos/{o}/{r}/collaborators/{u}/permission</c> answers what <see cref="SetPermission"/> set (404 otherwise).
/// Route names: <c>oauth-authorize</c>, <c>oauth-token</c>, <c>user</c>, <c>user-orgs</c>, <c>user-teams</c>, <c>collaborator-permission</c>.
/// </summary>
public sealed partial class FakeGitHub
{
    private readonly Dictionary<string, (FakeGitHubUser User, string? Challenge, string RedirectUri)> oauthCodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeGitHubUser> userTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> permissions = new(StringComparer.OrdinalIgnoreCase);

    public const string OAuthClientId = "Iv1.testclient0001";
    public const string OAuthClientSecret = "test-oauth-client-secret-0123456789";

    /// <summary>Who signs in at the fake's authorize page (null: the page answers 404, as if nobody were there).</summary>
    public FakeGitHubUser? OAuthUser { get; set; } = new("octocat", 583231);

    /// <summary>A server token <c>/user</c> answers for (as <see cref="ServerTokenLogin"/>), besides the user tokens handed out.</summary>
    public string? ServerToken { get; set; }

    public string ServerTokenLogin { get; set; } = "heaven-bot";

    /// <summary>The <c>X-OAuth-Scopes</c> GitHub sends for <see cref="ServerToken"/> (a classic token); null sends none (a fine-grained or app token).</summary>
    public string? ServerTokenScopes { get; set; } = "repo, gist";

    /// <summary>The user tokens handed out so far.</summary>
    public IReadOnlyCollection<string> IssuedUserTokens
    {
        get
        {
            lock (Gate)
            {
                return [.. userTokens.Keys];
            }
        }
    }

    /// <summary>What GitHub answers for <paramref name="login"/>'s role on <paramref name="repository"/>: admin, maintain, write, triage, read or none (null: 404).</summary>
    public void SetPermission(string repository, string login, string? role)
    {
        lock (Gate)
        {
            if (role is null)
            {
                permissions.Remove($"{repository}:{login}");
            }
            else
            {
                permissions[$"{repository}:{login}"] = role;
            }
        }
    }

    private FakeReply? AnswerOAuth(FakeRequest request)
    {
        lock (Gate)
        {
            return request.Route switch
            {
                "oauth-authorize" => Authorize(request),
                "oauth-token" => ExchangeCode(request),
                "user" when ServerToken is { } server && request.Header("Authorization") is { } authorization && authorization.EndsWith(" " + server, StringComparison.Ordinal) =>
                    FakeReply.Json(200, new JsonObject { ["login"] = ServerTokenLogin, ["id"] = 4242, ["type"] = "Bot" }, ServerTokenScopes is { } scopes ? new Dictionary<string, string> { ["X-OAuth-Scopes"] = scopes } : null),
                "user" => ForUser(request, user => Json(200, new JsonObject { ["login"] = user.Login, ["id"] = user.Id, ["type"] = "User" })),
                "user-orgs" => ForUser(request, user => Json(200, new JsonArray((user.Organizations ?? []).Select(o => (JsonNode)new JsonObject { ["login"] = o, ["id"] = 9000 }).ToArray()))),
                "user-teams" => ForUser(request, user => Json(200, new JsonArray((user.Teams ?? []).Select(t => (JsonNode)new JsonObject
                {
                    ["id"] = t.Id,
                    ["slug"] = t.Slug,
                    ["name"] = t.Slug,
                    ["organization"] = new JsonObject { ["login"] = t.Organization, ["id"] = 9000 },
                }).ToArray()))),
                "collaborator-permission" => permissions.TryGetValue($"{Repo(request.Match!)}:{request.Match!.Groups[3].Value}", out var role)
                    ? Json(200, new JsonObject
                    {
                        // GitHub's permission folds maintain into write and triage into read; role_name keeps them.
                        ["permission"] = role switch { "maintain" => "write", "triage" => "read", _ => role },
                        ["role_name"] = role,
                        ["user"] = new JsonObject { ["login"] = request.Match!.Groups[3].Value },
                    })
                    : Error(404, "Not Found"),
                _ => null,
            };
        }
    }

    private FakeReply Authorize(FakeRequest request)
    {
        var redirect = request.Query["redirect_uri"].ToString();
        if (OAuthUser is not { } user || request.Query["client_id"] != OAuthClientId || redirect.Length == 0)
        {
            return Error(404, "Not Found");
        }

        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));
        oauthCodes[code] = (user, request.Query["code_challenge"].ToString() is { Length: > 0 } c ? c : null, redirect);
        var location = QueryHelpers.AddQueryString(redirect, new Dictionary<string, string?> { ["code"] = code, ["state"] = request.Query["state"].ToString() });
        return new FakeReply(302, "", new Dictionary<string, string> { ["Location"] = location });
    }

    private FakeReply ExchangeCode(FakeRequest request)
    {
        var form = QueryHelpers.ParseQuery(request.Body);
        string Field(string name) => form.TryGetValue(name, out var v) ? v.ToString() : "";
        var basic = request.Header("Authorization") is { } header && header.StartsWith("Basic ", StringComparison.Ordinal)
            ? Encoding.UTF8.GetString(Convert.FromBase64String(header[6..])).Split(':', 2).Select(Uri.UnescapeDataString).ToArray()
            : null;
        var clientId = basic?[0] ?? Field("client_id");
        var clientSecret = basic?[1] ?? Field("client_secret");
        if (clientId != OAuthClientId || clientSecret != OAuthClientSecret)
        {
            return Json(200, new JsonObject { ["error"] = "incorrect_client_credentials" });
        }

        if (!oauthCodes.Remove(Field("code"), out var granted) || granted.RedirectUri != Field("redirect_uri"))
        {
            return Json(200, new JsonObject { ["error"] = "bad_verification_code" });
        }

        if (granted.Challenge is { } challenge
            && Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(Field("code_verifier")))).TrimEnd('=').Replace('+', '-').Replace('/', '_') != challenge)
        {
            return Json(200, new JsonObject { ["error"] = "bad_verification_code" });
        }

        var token = "gho_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        userTokens[token] = granted.User;
        return Json(200, new JsonObject { ["access_token"] = token, ["token_type"] = "bearer", ["scope"] = "read:org" });
    }

    private FakeReply ForUser(FakeRequest request, Func<FakeGitHubUser, FakeReply> answer)
    {
        var header = request.Header("Authorization") ?? "";
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.StartsWith("token ", StringComparison.OrdinalIgnoreCase) ? header[(header.IndexOf(' ') + 1)..] : "";
        return userTokens.TryGetValue(token, out var user) ? answer(user) : Error(401, "Bad credentials");
    }
}
