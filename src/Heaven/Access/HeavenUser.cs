using System.Security.Claims;

namespace Heaven.Access;

/// <summary>How someone got in.</summary>
public enum HeavenUserKind
{
    /// <summary>Signed in with GitHub; <see cref="HeavenUser.Name"/> is the login.</summary>
    GitHub,

    /// <summary>An API token; <see cref="HeavenUser.Name"/> is the token's name.</summary>
    Token,
}

/// <summary>Who is acting, as other code shows it ("Cancelled by octocat", "Locked by token ci-bot").</summary>
public sealed record HeavenUser(string Name, HeavenUserKind Kind, TokenScope? Scope)
{
    public const string KindClaim = "heaven:kind";
    public const string ScopeClaim = "heaven:scope";

    /// <summary>As people read it: the GitHub login, or <c>token NAME</c>.</summary>
    public string DisplayName => Kind == HeavenUserKind.GitHub ? Name : $"token {Name}";

    /// <summary>The signed-in user or token of <paramref name="principal"/>, or null for an anonymous request.</summary>
    public static HeavenUser? From(ClaimsPrincipal? principal)
    {
        if (principal?.Identity is not { IsAuthenticated: true } || principal.FindFirstValue(ClaimTypes.Name) is not { Length: > 0 } name)
        {
            return null;
        }

        return principal.FindFirstValue(KindClaim) switch
        {
            "github" => new HeavenUser(name, HeavenUserKind.GitHub, null),
            "token" when ApiTokens.TryParseScope(principal.FindFirstValue(ScopeClaim), out var scope) => new HeavenUser(name, HeavenUserKind.Token, scope),
            _ => null,
        };
    }

    internal static ClaimsIdentity TokenIdentity(ApiToken token, string authenticationType) => new(
        [
            new Claim(ClaimTypes.Name, token.Name),
            new Claim(KindClaim, "token"),
            new Claim(ScopeClaim, ApiTokens.ScopeName(token.Scope)),
        ],
        authenticationType,
        ClaimTypes.Name,
        ClaimTypes.Role);

    internal static ClaimsIdentity GitHubIdentity(string login, long id, string authenticationType) => new(
        [
            new Claim(ClaimTypes.Name, login),
            new Claim(ClaimTypes.NameIdentifier, id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new Claim(KindClaim, "github"),
        ],
        authenticationType,
        ClaimTypes.Name,
        ClaimTypes.Role);
}
