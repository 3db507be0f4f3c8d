using Heaven.Configuration;
using Heaven.GitHub;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OAuth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;

namespace Heaven.Access;

/// <summary>Who may get in (GitHub sign-in, API tokens) and what they may do; the security headers of every answer.</summary>
public static class AccessRegistration
{
    public const string CookieScheme = "HeavenSession";

    /// <summary>Chooses per request: a bearer token when one is sent, the session cookie otherwise.</summary>
    public const string DefaultScheme = "Heaven";

    public static IServiceCollection AddHeavenAccess(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<WebOptions>(WebOptions.Section);
        services.AddHttpClient(GitHubUserApi.ClientName, (sp, client) => client.Timeout = sp.GetRequiredService<IOptions<GitHubOptions>>().Value.RequestTimeout);
        services.AddSingleton<GitHubUserApi>();
        services.AddSingleton<ApiTokens>();
        services.AddSingleton<IRepositoryAccess, RepositoryAccess>();

        // One key ring for every node and every restart: in the database.
        services.AddDataProtection().SetApplicationName("Heaven");
        services.AddOptions<KeyManagementOptions>().Configure<IServiceProvider>((options, sp) =>
            options.XmlRepository = new DatabaseXmlRepository(sp));

        var authentication = services.AddAuthentication(options =>
            {
                options.DefaultScheme = DefaultScheme;
                options.DefaultChallengeScheme = DefaultScheme;
            })
            .AddPolicyScheme(DefaultScheme, "Heaven", options => options.ForwardDefaultSelector = context =>
                context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? BearerTokenHandler.SchemeName : CookieScheme)
            .AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.SchemeName, null)
            .AddCookie(CookieScheme, _ => { });
        services.AddOptions<CookieAuthenticationOptions>(CookieScheme).Configure<IOptionsMonitor<WebOptions>>((options, web) =>
        {
            options.Cookie.Name = "heaven_session";
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Lax;
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            // Not sliding: the allow-lists are checked again at the next sign-in, at the latest after this.
            options.ExpireTimeSpan = TimeSpan.FromHours(Math.Clamp(web.CurrentValue.SessionHours, 1, 24 * 30));
            options.SlidingExpiration = false;
            options.LoginPath = AccessEndpoints.SignInPath;
            options.ReturnUrlParameter = "returnUrl";
            options.Events.OnRedirectToLogin = SignInRedirect.ToTheFormsPage(options.Events.OnRedirectToLogin);
            options.Events.OnRedirectToAccessDenied = context =>
                PlainPage.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden, "Forbidden", "Your GitHub account may not do this on this Heaven.");
        });

        // The OAuth handler looks at every request for its callback and insists on a client id: it is
        // registered only when an OAuth app is configured (GET /signin says so otherwise).
        var github = configuration.GetSection(GitHubOptions.Section);
        if (!string.IsNullOrWhiteSpace(github["ClientId"]) && !string.IsNullOrWhiteSpace(github["ClientSecret"]))
        {
            authentication.AddOAuth(GitHubSignIn.Scheme, "GitHub", _ => { });
            services.AddOptions<OAuthOptions>(GitHubSignIn.Scheme).Configure<IOptions<GitHubOptions>, IOptionsMonitor<WebOptions>>(
                (options, gitHub, web) => GitHubSignIn.Configure(options, gitHub.Value, web.CurrentValue));
        }

        services.AddAuthorization(AccessPolicies.Add);
        services.AddSingleton<IAuthorizationHandler, ScopeRequirementHandler>();
        services.AddSingleton<IAuthorizationHandler, SignedInOrPublicRequirement>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, AccessResultHandler>();

        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "heaven_antiforgery";
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            options.HeaderName = "X-Heaven-Antiforgery";
        });
        return services;
    }

    /// <summary>Security headers, authentication, authorization (signed in unless public), antiforgery; the sign-in endpoints.</summary>
    public static WebApplication UseHeavenAccess(this WebApplication app)
    {
        app.UseMiddleware<SecurityHeaders>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        AccessEndpoints.Map(app);
        return app;
    }

    /// <summary>What the start-up report says about sign-in: whether it is on, and how to turn it on.</summary>
    public static IEnumerable<string> Report(IServiceProvider services, string heavenUrl)
    {
        var github = services.GetRequiredService<IOptions<GitHubOptions>>().Value;
        var web = services.GetRequiredService<IOptionsMonitor<WebOptions>>().CurrentValue;
        var policy = new SignInPolicy(web, github);
        var callback = heavenUrl.TrimEnd('/') + AccessEndpoints.CallbackPath;
        if (GitHubSignIn.IsConfigured(github) && policy.AnyoneConfigured)
        {
            var who = new List<string>();
            AddList(who, "users", web.AllowedUsers);
            AddList(who, "organizations", [.. web.AllowedOrganizations, .. string.IsNullOrWhiteSpace(github.Organization) ? Array.Empty<string>() : [github.Organization]]);
            AddList(who, "teams", [.. web.AllowedTeams, .. string.IsNullOrWhiteSpace(github.TeamId) ? Array.Empty<string>() : [$"id {github.TeamId}"]]);
            yield return "Sign-in with GitHub is on, for " + string.Join("; ", who) + ".";
            yield return $"  OAuth app callback URL: {callback}";
            yield break;
        }

        yield return GitHubSignIn.IsConfigured(github)
            ? "Sign-in with GitHub is off: nobody is allowed. List who may sign in: Web:AllowedUsers, Web:AllowedOrganizations or Web:AllowedTeams (org/team-slug)."
            : "Sign-in with GitHub is off. To turn it on, register an OAuth app on GitHub (callback URL " + callback + "), set GitHub:ClientId and GitHub:ClientSecret (or GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET) and list who may sign in: Web:AllowedUsers, Web:AllowedOrganizations or Web:AllowedTeams.";
        yield return "  API tokens work without it: heaven tokens create NAME --scope read|deploy|admin (docs/web.md).";
    }

    private static void AddList(List<string> into, string what, IReadOnlyCollection<string> names)
    {
        if (names.Count > 0)
        {
            into.Add($"{what} {string.Join(", ", names)}");
        }
    }
}
