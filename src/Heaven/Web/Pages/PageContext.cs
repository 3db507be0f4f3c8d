using Heaven.Access;
using Heaven.GitHub;
using Heaven.Operations;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;

namespace Heaven.Web.Pages;

/// <summary>
/// What every deployment page needs from its request: who is signed in, what they may do on a
/// repository, the antiforgery fields its forms carry, links to GitHub, and the message an action left
/// behind (<c>?notice=</c> or <c>?problem=</c> after the redirect back).
/// </summary>
internal sealed class PageContext(HttpContext http, IRepositoryAccess access, IAntiforgery antiforgery, IOptions<GitHubOptions> github, TimeProvider time)
{
    public const string NoticeParameter = "notice";
    public const string ProblemParameter = "problem";

    private AntiforgeryTokenSet? tokens;

    public HttpContext Http => http;

    public HeavenUser? User { get; } = HeavenUser.From(http.User);

    public DateTimeOffset Now { get; } = time.GetUtcNow();

    public CancellationToken Aborted => http.RequestAborted;

    public Task<RepositoryPermission> PermissionAsync(string repository) => access.GetAsync(http.User, repository, http.RequestAborted);

    /// <summary>The hidden field every form of the page carries, so a POST from elsewhere is refused.</summary>
    public Html FormFields
    {
        get
        {
            tokens ??= antiforgery.GetAndStoreTokens(http);
            return Html.Of($"<input type=\"hidden\" name=\"{tokens.FormFieldName}\" value=\"{tokens.RequestToken}\">");
        }
    }

    public PageChrome Chrome => User is { } user
        ? new PageChrome(new SignedInUser(user.DisplayName), "/signout", FormFields)
        : PageChrome.Anonymous;

    /// <summary>An address on GitHub's web site (<c>GitHub:WebUrl</c>) for a path such as <c>owner/repo/commit/sha</c>.</summary>
    public string GitHubUrl(string path) => github.Value.WebUrl.TrimEnd('/') + "/" + path;

    public Html CommitLink(string repository, string sha) =>
        Html.Of($"<a class=\"sha\" href=\"{Html.Url(GitHubUrl($"{repository}/commit/{Uri.EscapeDataString(sha)}"))}\" title=\"{sha}\"><code>{Heaven.Model.CommitSha.Abbreviated(sha)}</code></a>");

    /// <summary>The message an action left for the page it redirected to.</summary>
    public Html Flash()
    {
        var query = http.Request.Query;
        var notice = query[NoticeParameter].ToString();
        var problem = query[ProblemParameter].ToString();
        var parts = new List<Html>();
        if (notice.Length > 0)
        {
            parts.Add(Html.Of($"<p class=\"flash notice\" role=\"status\">{notice}</p>"));
        }

        if (problem.Length > 0)
        {
            parts.Add(Html.Of($"<p class=\"flash problem\" role=\"alert\">{problem}</p>"));
        }

        return Html.Join(parts);
    }

    /// <summary>Checks the form's antiforgery token; false means the POST did not come from one of Heaven's pages.</summary>
    public Task<bool> FormIsGenuineAsync() => antiforgery.IsRequestValidAsync(http);

    public static string EnvironmentPath(string repository, string environment) =>
        $"/repos/{repository}/environments/{EnvironmentAddress.ToSegment(environment)}";

    public static string DeploymentPath(long id) => $"/deployments/{id}";

    /// <summary>Back to <paramref name="path"/> with the action's outcome as the page's message.</summary>
    public static IResult Back(string path, ActionResult result) =>
        Results.Redirect($"{path}?{(result.Succeeded ? NoticeParameter : ProblemParameter)}={Uri.EscapeDataString(result.Message)}");

    public IResult Refused(string title, string text) =>
        PageLayout.Result(title, null, Chrome, Html.Of($"<p class=\"flash problem\">{text}</p>"), StatusCodes.Status403Forbidden);

    public IResult Missing(string title, string text) =>
        PageLayout.Result(title, null, Chrome, Html.Of($"<p class=\"flash problem\">{text}</p><p><a href=\"/\">Back to the dashboard</a></p>"), StatusCodes.Status404NotFound);

    public static Html State(string state) => Html.Of($"<span class=\"state state-{state}\">{state}</span>");

    public Html When(DateTimeOffset? at) => at is { } value ? RelativeTime.Tag(value, Now) : Html.Text("–");

    public static string Elapsed(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{(int)span.TotalHours} h {span.Minutes} min" : span.TotalMinutes >= 1 ? $"{span.Minutes} min {span.Seconds} s" : $"{Math.Max(0, span.Seconds)} s";

    public static Html LockBadge(LockView held) =>
        Html.Of($"<span class=\"badge lock\" title=\"Locked {RelativeTime.Exact(held.LockedAt)}{(held.ExpiresAt is { } until ? $" until {RelativeTime.Exact(until)}" : "")}\">Locked by {held.LockedBy}{(string.IsNullOrWhiteSpace(held.Reason) ? "" : $": {held.Reason}")}</span>");
}

/// <summary>The pages' services, made per request.</summary>
internal static class PageContextFactory
{
    public static PageContext For(HttpContext http) => new(
        http,
        http.RequestServices.GetRequiredService<IRepositoryAccess>(),
        http.RequestServices.GetRequiredService<IAntiforgery>(),
        http.RequestServices.GetRequiredService<IOptions<GitHubOptions>>(),
        http.RequestServices.GetRequiredService<TimeProvider>());
}
