using System.Security.Claims;
using Heaven.GitHub;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OAuth;
using Microsoft.Extensions.Options;

namespace Heaven.Access;

/// <summary>
/// Sign-in with GitHub's OAuth web flow. Who may sign in is decided once, when GitHub hands the user
/// back, with the user's own token (their organizations and teams); the token is then dropped: the
/// session cookie holds the login and the GitHub id, nothing GitHub would accept.
/// </summary>
internal static class GitHubSignIn
{
    public const string Scheme = "GitHub";

    private const string RefusalKey = "heaven.refusal";

    /// <summary>Whether an OAuth app is configured (<c>GitHub:ClientId</c> and <c>GitHub:ClientSecret</c>).</summary>
    public static bool IsConfigured(GitHubOptions github) =>
        !string.IsNullOrWhiteSpace(github.ClientId) && !string.IsNullOrWhiteSpace(github.ClientSecret);

    public static void Configure(OAuthOptions options, GitHubOptions github, WebOptions web)
    {
        var webUrl = github.WebUrl.TrimEnd('/');
        options.ClientId = github.ClientId ?? "";
        options.ClientSecret = github.ClientSecret ?? "";
        options.AuthorizationEndpoint = webUrl + "/login/oauth/authorize";
        options.TokenEndpoint = webUrl + "/login/oauth/access_token";
        // Unused by the handler (no claim actions); the user is read in OnCreatingTicket, on GitHub:ApiUrl.
        options.UserInformationEndpoint = github.ApiUrl.TrimEnd('/') + "/user";
        options.CallbackPath = AccessEndpoints.CallbackPath;
        options.Scope.Clear();
        options.Scope.Add("read:org");
        options.SaveTokens = false;
        options.SignInScheme = AccessRegistration.CookieScheme;
        options.UsePkce = true;
        options.RemoteAuthenticationTimeout = TimeSpan.FromMinutes(10);
        // Plain http works (a Heaven behind no TLS, the tests); Lax is enough for GitHub's top-level redirect back.
        options.CorrelationCookie.SameSite = SameSiteMode.Lax;
        options.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        options.Events = new OAuthEvents
        {
            OnCreatingTicket = CreatingTicketAsync,
            OnTicketReceived = TicketReceivedAsync,
            OnRemoteFailure = RemoteFailureAsync,
        };
    }

    private static async Task CreatingTicketAsync(OAuthCreatingTicketContext context)
    {
        var services = context.HttpContext.RequestServices;
        var policy = new SignInPolicy(
            services.GetRequiredService<IOptionsMonitor<WebOptions>>().CurrentValue,
            services.GetRequiredService<IOptions<GitHubOptions>>().Value);
        var api = services.GetRequiredService<GitHubUserApi>();
        var cancellationToken = context.HttpContext.RequestAborted;
        var user = await api.GetIdentityAsync(context.AccessToken!, withOrganizations: false, withTeams: false, cancellationToken);
        if (policy.AnyoneConfigured && !policy.IsLoginAllowed(user.Login))
        {
            user = await api.GetIdentityAsync(context.AccessToken!, policy.NeedsOrganizations, policy.NeedsTeams, cancellationToken);
        }

        if (policy.Refusal(user) is { } refusal)
        {
            context.Properties.Items[RefusalKey] = refusal;
            services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GitHubSignIn)).LogWarning("Sign-in refused for {Login}: not allowed by Web:Allowed*.", user.Login);
        }

        context.Principal = new ClaimsPrincipal(HeavenUser.GitHubIdentity(user.Login, user.Id, AccessRegistration.CookieScheme));
    }

    private static Task TicketReceivedAsync(TicketReceivedContext context)
    {
        if (context.Properties?.Items.TryGetValue(RefusalKey, out var refusal) == true && refusal is not null)
        {
            context.HandleResponse();
            return PlainPage.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden, "Sign-in refused", refusal);
        }

        return Task.CompletedTask;
    }

    private static Task RemoteFailureAsync(RemoteFailureContext context)
    {
        context.HandleResponse();
        var failure = context.Failure;
        var why = failure switch
        {
            HttpRequestException => "GitHub did not answer who you are (GitHub:ApiUrl). Try again in a moment.",
            _ when context.Request.Query.ContainsKey("error") => "GitHub did not authorize the sign-in (it was declined, or the OAuth app is misconfigured).",
            _ => "The sign-in could not be completed (an old or repeated sign-in link, or cookies blocked). Try again.",
        };
        context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GitHubSignIn))
            .LogWarning("Sign-in with GitHub failed: {Kind}.", failure?.GetType().Name ?? "unknown");
        return PlainPage.WriteAsync(context.HttpContext, StatusCodes.Status400BadRequest, "Sign-in did not complete", why + " Start again at " + AccessEndpoints.SignInPath + ".");
    }
}

/// <summary>A minimal HTML page: a heading and a sentence, everything encoded.</summary>
internal static class PlainPage
{
    public static Task WriteAsync(HttpContext context, int status, string title, string text, string? extraHtml = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(
            $"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{System.Net.WebUtility.HtmlEncode(title)} - Heaven</title></head>\n<body><h1>{System.Net.WebUtility.HtmlEncode(title)}</h1>\n<p>{System.Net.WebUtility.HtmlEncode(text)}</p>\n{extraHtml}</body></html>\n",
            context.RequestAborted);
    }
}
