using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Heaven.Access;

/// <summary>
/// Where sign-in returns to. A signed-out GET returns to the page asked for. A signed-out POST (a form
/// sent after the session expired) must not: after sign-in the browser would GET the action's address,
/// which is no page, and the action itself is never performed on the way. It returns to the page the
/// form was on (the Referer, when it is this server's), else the dashboard.
/// </summary>
internal static class SignInRedirect
{
    public static Func<RedirectContext<CookieAuthenticationOptions>, Task> ToTheFormsPage(Func<RedirectContext<CookieAuthenticationOptions>, Task> redirect) =>
        context =>
        {
            var request = context.Request;
            if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
            {
                var returnTo = SameOriginReferer(request) ?? "/";
                // Absolute, as the cookie handler's own redirect is.
                context.RedirectUri = request.Scheme + "://" + request.Host + request.PathBase + AccessEndpoints.SignInPath + QueryString.Create(context.Options.ReturnUrlParameter, returnTo);
            }

            return redirect(context);
        };

    /// <summary>The path and query of the Referer when it is an address on this server, and not the sign-in itself.</summary>
    private static string? SameOriginReferer(HttpRequest request)
    {
        if (!Uri.TryCreate(request.Headers.Referer.ToString(), UriKind.Absolute, out var referer)
            || !string.Equals(referer.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(referer.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var target = referer.PathAndQuery;
        return AccessEndpoints.IsLocal(target) && !target.StartsWith(AccessEndpoints.SignInPath, StringComparison.Ordinal) ? target : null;
    }
}
