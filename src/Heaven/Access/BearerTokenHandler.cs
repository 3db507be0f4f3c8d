using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Heaven.Access;

/// <summary><c>Authorization: Bearer heaven_...</c>: an API token from <see cref="ApiTokens"/>.</summary>
internal sealed class BearerTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiTokens tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "HeavenToken";

    /// <summary>Where the reason a presented token was refused waits for the answer (the authentication feature keeps successes only).</summary>
    internal const string FailureItem = "Heaven.Access.TokenFailure";

    internal const string Refused = "The API token is not valid: it is unknown, revoked or expired.";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var token = await tokens.AuthenticateAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        if (token is null)
        {
            // The same words for unknown, revoked and expired: the answer tells a guesser nothing.
            Context.Items[FailureItem] = Refused;
            return AuthenticateResult.Fail(Refused);
        }

        var principal = new ClaimsPrincipal(HeavenUser.TokenIdentity(token, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        return Task.CompletedTask;
    }
}
