using Heaven.Access;
using Microsoft.AspNetCore.Antiforgery;

namespace Heaven.Api;

/// <summary>
/// What the one calling may do on a repository. A token's scope holds on every repository (the
/// endpoint's policy checked it already); a signed-in GitHub user's permission is what GitHub says
/// their role on that repository is (<see cref="IRepositoryAccess"/>).
/// </summary>
internal static class ApiCaller
{
    public static HeavenUser User(HttpContext context) =>
        HeavenUser.From(context.User) ?? throw new InvalidOperationException("An API endpoint ran without a signed-in user or token.");

    public static string Actor(HttpContext context) => User(context).DisplayName;

    /// <summary>Null when the caller has <paramref name="needed"/> on <paramref name="repository"/>, else the 403 answer naming what is missing.</summary>
    public static async Task<IResult?> RequireAsync(HttpContext context, string repository, RepositoryPermission needed)
    {
        var user = User(context);
        if (user.Kind == HeavenUserKind.Token)
        {
            return null;
        }

        var access = context.RequestServices.GetRequiredService<IRepositoryAccess>();
        var has = await access.GetAsync(context.User, repository, context.RequestAborted);
        if (has >= needed)
        {
            return null;
        }

        var word = needed == RepositoryPermission.Deploy ? "push (write)" : "read";
        return ApiProblems.Forbidden($"This needs {word} permission on {repository}; GitHub says {user.Name} has {(has == RepositoryPermission.None ? "none" : "read only")}.");
    }

    /// <summary>
    /// Changes made with the session cookie must carry the antiforgery token (header
    /// <c>X-Heaven-Antiforgery</c>, from <c>GET /api/v1/antiforgery</c>): another site could make a browser
    /// send the cookie, never the token. Bearer tokens are not sent by browsers on their own and need none.
    /// </summary>
    public static async ValueTask<object?> ProtectAgainstForgery(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        if (HeavenUser.From(context.User) is { Kind: HeavenUserKind.GitHub }
            && !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method)
            && !await context.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(context))
        {
            return ApiProblems.Forbidden("A change made with the sign-in cookie needs the antiforgery token in the X-Heaven-Antiforgery header (GET /api/v1/antiforgery), or use an API token.");
        }

        return await next(invocation);
    }
}
