using Heaven.GitHub;
using Microsoft.Extensions.Options;

namespace Heaven.Access;

/// <summary>Headers every answer carries: a strict Content-Security-Policy, no sniffing, no framing, same-origin referrers.</summary>
internal sealed class SecurityHeaders(RequestDelegate next, IOptions<GitHubOptions> github)
{
    private readonly string policy = ContentSecurityPolicy(github.Value.WebUrl);

    public Task InvokeAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = policy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "same-origin";
        return next(context);
    }

    /// <summary>Avatars come from GitHub: avatars.githubusercontent.com, or the Enterprise server itself.</summary>
    internal static string ContentSecurityPolicy(string webUrl)
    {
        var avatars = "https://avatars.githubusercontent.com";
        if (Uri.TryCreate(webUrl, UriKind.Absolute, out var web) && !string.Equals(web.Host, "github.com", StringComparison.OrdinalIgnoreCase))
        {
            // GitHub Enterprise serves avatars at /avatars on its host, or on avatars.<host> with subdomain isolation.
            avatars = $"{web.GetLeftPart(UriPartial.Authority)} {web.Scheme}://avatars.{web.Authority}";
        }

        return $"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: {avatars}; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    }
}
