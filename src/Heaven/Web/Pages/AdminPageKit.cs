using System.Security.Claims;
using Heaven.Access;
using Microsoft.AspNetCore.Antiforgery;

namespace Heaven.Web.Pages;

/// <summary>
/// What the operator pages (deliveries, outbox, auto-deploy, locks, tokens) share: who is asking, the
/// header, the anti-forgery fields of their forms, the refusal page and the check of a posted form.
/// Anonymous visitors never get here: the fallback authorization policy sends them to <c>/signin</c>.
/// </summary>
internal sealed class AdminPageKit(HttpContext context, IAntiforgery antiforgery, IRepositoryAccess access, TimeProvider time)
{
    private readonly Dictionary<string, RepositoryPermission> permissions = new(StringComparer.OrdinalIgnoreCase);
    private Html? formFields;

    public ClaimsPrincipal Principal => context.User;

    public HeavenUser User => HeavenUser.From(context.User) ?? throw new InvalidOperationException("The operator pages are only served to a signed-in user or a token.");

    public bool IsAdmin => access.IsAdmin(context.User);

    public DateTimeOffset Now => time.GetUtcNow();

    public CancellationToken Aborted => context.RequestAborted;

    public HttpRequest Request => context.Request;

    /// <summary>The hidden anti-forgery field every form of these pages carries.</summary>
    public Html FormFields
    {
        get
        {
            if (formFields is { } fields)
            {
                return fields;
            }

            var tokens = antiforgery.GetAndStoreTokens(context);
            formFields = Html.Of($"<input type=\"hidden\" name=\"{tokens.FormFieldName}\" value=\"{tokens.RequestToken}\">");
            return formFields.Value;
        }
    }

    public PageChrome Chrome => new(new SignedInUser(User.DisplayName), AccessEndpoints.SignOutPath, FormFields);

    /// <summary>What the user may do on <paramref name="repository"/>; administrators may do anything, and GitHub is asked once per request and repository.</summary>
    public async Task<RepositoryPermission> PermissionAsync(string repository)
    {
        if (IsAdmin)
        {
            return RepositoryPermission.Deploy;
        }

        if (!permissions.TryGetValue(repository, out var permission))
        {
            permission = await access.GetAsync(context.User, repository, context.RequestAborted);
            permissions[repository] = permission;
        }

        return permission;
    }

    public IResult Page(string title, PageSection section, Html content, int statusCode = StatusCodes.Status200OK) =>
        PageLayout.Result(title, section, Chrome, content, statusCode);

    /// <summary>403 with a page that says who may see this and who is signed in.</summary>
    public IResult Forbidden(PageSection section, string what) =>
        Page("Forbidden", section, Html.Of($"""
            <p class="notice notice-error" role="alert">Only Heaven's administrators may {what}. You are signed in as <strong>{User.DisplayName}</strong>, who is not one.</p>
            <p>Administrators are the GitHub logins listed in <code>Web:Administrators</code> and <code>admin</code> API tokens; ask an operator of this Heaven.</p>
            """), StatusCodes.Status403Forbidden);

    /// <summary>The posted form, or null when it did not come from one of Heaven's own pages (anti-forgery token missing or wrong).</summary>
    public async Task<IFormCollection?> ReadFormAsync()
    {
        if (!context.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(context))
        {
            return null;
        }

        return await context.Request.ReadFormAsync(context.RequestAborted);
    }

    /// <summary>400 for a form that was not sent from Heaven's page.</summary>
    public IResult FormRefused(PageSection section) =>
        Page("Form refused", section, Html.Of($"""
            <p class="notice notice-error" role="alert">The form was not sent from Heaven's own page (anti-forgery token missing or wrong). Reload the page and try again.</p>
            """), StatusCodes.Status400BadRequest);

    public static Html Notice(string? message, bool success) => string.IsNullOrEmpty(message)
        ? Html.Empty
        : success
            ? Html.Of($"<p class=\"notice notice-success\" role=\"status\">{message}</p>")
            : Html.Of($"<p class=\"notice notice-error\" role=\"alert\">{message}</p>");

    public static Html Time(DateTimeOffset? at, DateTimeOffset now, string none = "—") =>
        at is { } value ? RelativeTime.Tag(value, now) : Html.Text(none);
}

/// <summary>Maps the operator pages.</summary>
public static class AdminPages
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        DeliveriesPage.Map(endpoints);
        OutboxPage.Map(endpoints);
        AutoDeployPage.Map(endpoints);
        LocksPage.Map(endpoints);
        NodesPage.Map(endpoints);
        TokensPage.Map(endpoints);
    }

    internal static AdminPageKit Kit(HttpContext context) => new(
        context,
        context.RequestServices.GetRequiredService<IAntiforgery>(),
        context.RequestServices.GetRequiredService<IRepositoryAccess>(),
        context.RequestServices.GetRequiredService<TimeProvider>());
}
