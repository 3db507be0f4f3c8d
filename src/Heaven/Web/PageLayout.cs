namespace Heaven.Web;

/// <summary>The sections every page links to, in the order of the navigation.</summary>
public enum PageSection
{
    Dashboard,
    Locks,
    Deliveries,
    Outbox,
    AutoDeploy,
    Nodes,
    Tokens,
}

/// <summary>Who is signed in, for the header: the GitHub login and, when known, the avatar's address.</summary>
public sealed record SignedInUser(string Login, string? AvatarUrl = null);

/// <summary>
/// What the header shows besides the navigation: the signed-in user, and the sign-out form's target
/// and hidden fields (an anti-forgery token). No user: no sign-out form.
/// </summary>
public sealed record PageChrome(SignedInUser? User = null, string SignOutPath = "/sign-out", Html SignOutFields = default)
{
    public static PageChrome Anonymous { get; } = new();
}

/// <summary>
/// The frame of every page: the document head (the stylesheet and script from <see cref="StaticAssets"/>,
/// nothing inline: the pages run under a strict Content-Security-Policy), a header with the product
/// name, the navigation and the signed-in user, and the page's own content in <c>main</c>.
/// </summary>
public static class PageLayout
{
    public const string ProductName = "Heaven";

    public static IReadOnlyList<(PageSection Section, string Path, string Label)> Navigation { get; } =
    [
        (PageSection.Dashboard, "/", "Dashboard"),
        (PageSection.Locks, "/locks", "Locks"),
        (PageSection.Deliveries, "/deliveries", "Deliveries"),
        (PageSection.Outbox, "/outbox", "Outbox"),
        (PageSection.AutoDeploy, "/auto-deploy", "Auto-deploy"),
        (PageSection.Nodes, "/nodes", "Nodes"),
        (PageSection.Tokens, "/tokens", "Tokens"),
    ];

    /// <summary>A whole page.</summary>
    /// <param name="title">The page's own title; the browser tab reads "title · Heaven".</param>
    /// <param name="current">The navigation entry marked as the current page, if any.</param>
    public static Html Render(string title, PageSection? current, PageChrome chrome, Html content, StaticAssets? assets = null)
    {
        assets ??= StaticAssets.Embedded;
        var navigation = Navigation.Select(entry => entry.Section == current
            ? Html.Of($"<li><a href=\"{Html.Url(entry.Path)}\" aria-current=\"page\">{entry.Label}</a></li>")
            : Html.Of($"<li><a href=\"{Html.Url(entry.Path)}\">{entry.Label}</a></li>"));

        return Html.Of($"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{title} · {ProductName}</title>
            <link rel="stylesheet" href="{assets.Url("heaven.css")}">
            <link rel="icon" type="image/svg+xml" href="{assets.Url("heaven.svg")}">
            <script src="{assets.Url("heaven.js")}" defer></script>
            </head>
            <body>
            <a class="skip-link" href="#main">Skip to content</a>
            <header class="site-header">
            <a class="brand" href="/">{ProductName}</a>
            <nav aria-label="Main"><ul>{navigation}</ul></nav>
            {UserSlot(chrome)}
            </header>
            <main id="main">
            <h1>{title}</h1>
            {content}
            </main>
            </body>
            </html>

            """);
    }

    /// <summary>A whole page as the answer to a request: HTML, never cached (pages show live state).</summary>
    public static IResult Result(string title, PageSection? current, PageChrome chrome, Html content, int statusCode = StatusCodes.Status200OK) =>
        new PageResult(Render(title, current, chrome, content), statusCode);

    private static Html UserSlot(PageChrome chrome)
    {
        if (chrome.User is not { } user)
        {
            return Html.Empty;
        }

        var avatar = user.AvatarUrl is { } address
            ? Html.Of($"<img class=\"avatar\" src=\"{Html.Url(address)}\" alt=\"\" width=\"24\" height=\"24\">")
            : Html.Empty;
        return Html.Of($"""
            <div class="user">
            {avatar}<span class="login">{user.Login}</span>
            <form method="post" action="{Html.Url(chrome.SignOutPath)}">{chrome.SignOutFields}<button type="submit" class="link-button">Sign out</button></form>
            </div>
            """);
    }

    private sealed class PageResult(Html page, int statusCode) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = statusCode;
            response.ContentType = "text/html; charset=utf-8";
            response.Headers.CacheControl = "no-store";
            response.Headers.XContentTypeOptions = "nosniff";
            return response.WriteAsync(page.ToString(), httpContext.RequestAborted);
        }
    }
}
