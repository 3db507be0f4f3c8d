using Heaven.GitHub;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Heaven.Access;

/// <summary><c>GET /signin</c>, <c>GET</c>/<c>POST /signout</c>; the OAuth handler answers <c>/signin-github</c> itself.</summary>
internal static class AccessEndpoints
{
    public const string SignInPath = "/signin";
    public const string SignOutPath = "/signout";
    public const string CallbackPath = "/signin-github";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(SignInPath, SignInAsync).AllowAnonymous();
        // A page with the form, for a browser that lands here; the pages' own sign-out button posts the same.
        endpoints.MapGet(SignOutPath, (HttpContext context, IAntiforgery antiforgery) =>
        {
            var tokens = antiforgery.GetAndStoreTokens(context);
            var form = $"<form method=\"post\" action=\"{SignOutPath}\"><input type=\"hidden\" name=\"{System.Net.WebUtility.HtmlEncode(tokens.FormFieldName)}\" value=\"{System.Net.WebUtility.HtmlEncode(tokens.RequestToken)}\"><button type=\"submit\">Sign out</button></form>\n";
            return PlainPage.WriteAsync(context, StatusCodes.Status200OK, "Sign out", $"Signed in as {HeavenUser.From(context.User)?.DisplayName}.", form);
        });
        endpoints.MapPost(SignOutPath, SignOutAsync);
    }

    private static async Task SignInAsync(HttpContext context, string? returnUrl, IOptions<GitHubOptions> github, IOptionsMonitor<WebOptions> web)
    {
        var target = IsLocal(returnUrl) ? returnUrl! : "/";
        if (HeavenUser.From(context.User) is { Kind: HeavenUserKind.GitHub })
        {
            context.Response.Redirect(target);
            return;
        }

        if (!GitHubSignIn.IsConfigured(github.Value))
        {
            await PlainPage.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Sign-in is not configured",
                "Sign-in with GitHub is off on this Heaven: an operator sets GitHub:ClientId and GitHub:ClientSecret (an OAuth app) and who may sign in (Web:AllowedUsers, Web:AllowedOrganizations, Web:AllowedTeams). API tokens work without it.");
            return;
        }

        if (!new SignInPolicy(web.CurrentValue, github.Value).AnyoneConfigured)
        {
            await PlainPage.WriteAsync(context, StatusCodes.Status403Forbidden, "Sign-in refused",
                "Nobody may sign in to this Heaven yet: an operator lists who may in Web:AllowedUsers, Web:AllowedOrganizations or Web:AllowedTeams.");
            return;
        }

        await context.ChallengeAsync(GitHubSignIn.Scheme, new AuthenticationProperties { RedirectUri = target });
    }

    private static async Task SignOutAsync(HttpContext context, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            await PlainPage.WriteAsync(context, StatusCodes.Status400BadRequest, "Sign-out refused", "The form was not sent from Heaven's own page (antiforgery token missing or wrong).");
            return;
        }

        await context.SignOutAsync(AccessRegistration.CookieScheme);
        await PlainPage.WriteAsync(context, StatusCodes.Status200OK, "Signed out", "You are signed out of Heaven.", $"<p><a href=\"{SignInPath}\">Sign in again</a></p>\n");
    }

    /// <summary>A path on this server: <c>/x</c>, never <c>//host</c>, <c>/\host</c> or an absolute URL.</summary>
    internal static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\'))
        && !url.Any(c => char.IsControl(c));
}
