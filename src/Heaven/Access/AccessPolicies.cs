using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Heaven.Access;

/// <summary>
/// The authorization policies endpoints name (<c>.RequireAuthorization(AccessPolicies.Deploy)</c>).
/// A token passes when its scope is at least the policy's (<c>read</c> &lt; <c>deploy</c> &lt; <c>admin</c>);
/// a signed-in GitHub user passes <see cref="Read"/> and <see cref="Deploy"/> (what they may do on a
/// repository is then <see cref="IRepositoryAccess"/>'s answer) and <see cref="Admin"/> when listed in
/// <c>Web:Administrators</c>.
/// </summary>
public static class AccessPolicies
{
    public const string Read = "heaven:read";
    public const string Deploy = "heaven:deploy";
    public const string Admin = "heaven:admin";

    internal static void Add(AuthorizationOptions options)
    {
        options.AddPolicy(Read, p => p.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(TokenScope.Read)));
        options.AddPolicy(Deploy, p => p.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(TokenScope.Deploy)));
        options.AddPolicy(Admin, p => p.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(TokenScope.Admin)));
        // Every endpoint that names no policy: signed in, or one of the few public addresses.
        options.FallbackPolicy = new AuthorizationPolicyBuilder().AddRequirements(new SignedInOrPublicRequirement()).Build();
    }
}

/// <summary>At least this token scope (or, for a GitHub user, what <see cref="AccessPolicies"/> says).</summary>
public sealed class ScopeRequirement(TokenScope scope) : IAuthorizationRequirement
{
    public TokenScope Scope { get; } = scope;
}

internal sealed class ScopeRequirementHandler(IRepositoryAccess access) : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        var allowed = HeavenUser.From(context.User) switch
        {
            { Kind: HeavenUserKind.Token, Scope: { } scope } => scope >= requirement.Scope,
            { Kind: HeavenUserKind.GitHub } => requirement.Scope < TokenScope.Admin || access.IsAdmin(context.User),
            _ => false,
        };
        if (allowed)
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>Signed in, or a request to one of <see cref="PublicRequests"/>.</summary>
internal sealed class SignedInOrPublicRequirement : AuthorizationHandler<SignedInOrPublicRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, SignedInOrPublicRequirement requirement)
    {
        if (HeavenUser.From(context.User) is not null || (context.Resource is HttpContext http && PublicRequests.IsPublic(http.Request)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>The only requests served without signing in; everything else needs a user or a token.</summary>
public static partial class PublicRequests
{
    public static bool IsPublic(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        return path == "/healthz" || path.StartsWith("/healthz/", StringComparison.Ordinal)
            // POST is the webhook; other methods get the endpoint's own 405, which tells whoever tries the URL in a browser what it is.
            || path == "/events"
            // A signed log link carries its own key (Web/DeploymentLogPage.cs checks it).
            || ((HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && LogLink().IsMatch(path) && request.Query.ContainsKey("token"))
            || path == AccessEndpoints.SignInPath
            || path == AccessEndpoints.CallbackPath
            || path.StartsWith("/static/", StringComparison.Ordinal);
    }

    [GeneratedRegex("^/deployments/[0-9]+/log$", RegexOptions.CultureInvariant)]
    private static partial Regex LogLink();
}

/// <summary>
/// Answers refusals: under <c>/api/</c> with <c>application/problem+json</c> (401 naming what is wrong
/// with the credentials, 403 naming the scope that is missing), elsewhere as ASP.NET Core does (a
/// redirect to <c>/signin</c>, or 403).
/// </summary>
internal sealed class AccessResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler inner = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (!authorizeResult.Succeeded && context.GetEndpoint()?.Metadata.GetMetadata<NotFoundWhenRefused>() is not null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal) || authorizeResult.Succeeded)
        {
            await inner.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        if (authorizeResult.Challenged)
        {
            var failure = context.Items.TryGetValue(BearerTokenHandler.FailureItem, out var refused) ? refused as string : null;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await Problem.WriteAsync(
                context,
                StatusCodes.Status401Unauthorized,
                "Authentication required",
                failure ?? "Send an API token as 'Authorization: Bearer <token>' (heaven tokens create), or sign in with GitHub.");
            return;
        }

        var missing = authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<ScopeRequirement>().Select(r => r.Scope).DefaultIfEmpty(TokenScope.Read).Max() ?? TokenScope.Read;
        var user = HeavenUser.From(context.User);
        var detail = user?.Kind == HeavenUserKind.GitHub
            ? $"This needs the '{ApiTokens.ScopeName(missing)}' scope; {user.Name} is not in Web:Administrators."
            : $"This needs a token with the '{ApiTokens.ScopeName(missing)}' scope; this token has '{(user?.Scope is { } s ? ApiTokens.ScopeName(s) : "none")}'.";
        await Problem.WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden", detail);
    }
}

/// <summary>
/// Endpoint metadata: a caller the endpoint's policy refuses is answered 404, as if there were nothing
/// there, rather than told to sign in (for endpoints that only machines read, such as <c>/metrics</c>).
/// </summary>
public sealed class NotFoundWhenRefused;

internal static class Problem
{
    public static Task WriteAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsJsonAsync(
            new Dictionary<string, object> { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail },
            options: (System.Text.Json.JsonSerializerOptions?)null,
            contentType: "application/problem+json");
    }
}
