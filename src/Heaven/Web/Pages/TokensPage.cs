using System.Globalization;
using Heaven.Access;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>/tokens</c>: the API tokens (never their text: only a hash is kept), a form to make one and a
/// button to revoke each. Administrators only. A new token's text is shown once, on the page that
/// answers the form.
/// </summary>
internal static class TokensPage
{
    public const int MaxExpiryDays = 3650;

    private const string What = "manage API tokens";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/tokens", async (HttpContext context, ApiTokens tokens) =>
        {
            var kit = AdminPages.Kit(context);
            return kit.IsAdmin ? await RenderAsync(kit, tokens, Html.Empty, StatusCodes.Status200OK) : kit.Forbidden(PageSection.Tokens, What);
        });

        endpoints.MapPost("/tokens", async (HttpContext context, ApiTokens tokens) =>
        {
            var kit = AdminPages.Kit(context);
            if (!kit.IsAdmin)
            {
                return kit.Forbidden(PageSection.Tokens, What);
            }

            if (await kit.ReadFormAsync() is not { } form)
            {
                return kit.FormRefused(PageSection.Tokens);
            }

            var name = form["name"].ToString().Trim();
            if (!ApiTokens.TryParseScope(form["scope"].ToString(), out var scope))
            {
                return await RenderAsync(kit, tokens, AdminPageKit.Notice("Choose a scope: read, deploy or admin.", success: false), StatusCodes.Status400BadRequest);
            }

            TimeSpan? lifetime = null;
            var days = form["expiresInDays"].ToString().Trim();
            if (days.Length > 0)
            {
                if (!int.TryParse(days, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > MaxExpiryDays)
                {
                    return await RenderAsync(kit, tokens, AdminPageKit.Notice($"The expiry is a number of days from 1 to {MaxExpiryDays}, or empty for a token that does not expire.", success: false), StatusCodes.Status400BadRequest);
                }

                lifetime = TimeSpan.FromDays(count);
            }

            CreatedApiToken created;
            try
            {
                created = await tokens.CreateAsync(name, scope, lifetime, kit.User.DisplayName, kit.Aborted);
            }
            catch (ApiTokenException e)
            {
                return await RenderAsync(kit, tokens, AdminPageKit.Notice(e.Message, success: false), StatusCodes.Status400BadRequest);
            }

            var expires = created.Token.ExpiresAt is { } at ? $"It expires {RelativeTime.Exact(Utc(at))}." : "It does not expire; revoke it when it is no longer needed.";
            return kit.Page("Token created", PageSection.Tokens, Html.Of($"""
                <div class="notice notice-success" role="status">
                <p>Token <strong>{created.Token.Name}</strong> ({ApiTokens.ScopeName(created.Token.Scope)}: {ApiTokens.Describe(created.Token.Scope)}) is ready. {expires}</p>
                </div>
                <label for="new-token">The token</label>
                <input id="new-token" class="token-text" readonly value="{created.Text}" size="60" spellcheck="false" autocomplete="off">
                <p class="copy-hint"><strong>Copy it now</strong> (select it, then Ctrl+C or ⌘C): it is shown only this once. Heaven keeps only a hash of it and cannot show it again; if it is lost, revoke it and make a new one.</p>
                <p>Use it as <code>Authorization: Bearer &lt;token&gt;</code>.</p>
                <p><a href="/tokens">Back to the tokens</a></p>
                """));
        });

        endpoints.MapPost("/tokens/revoke", async (HttpContext context, ApiTokens tokens) =>
        {
            var kit = AdminPages.Kit(context);
            if (!kit.IsAdmin)
            {
                return kit.Forbidden(PageSection.Tokens, What);
            }

            if (await kit.ReadFormAsync() is not { } form)
            {
                return kit.FormRefused(PageSection.Tokens);
            }

            var name = form["name"].ToString();
            var revoked = await tokens.RevokeAsync(name, kit.Aborted);
            var notice = revoked
                ? AdminPageKit.Notice($"Token {name} is revoked; it no longer works.", success: true)
                : AdminPageKit.Notice($"There is no token named {name}.", success: false);
            return await RenderAsync(kit, tokens, notice, revoked ? StatusCodes.Status200OK : StatusCodes.Status404NotFound);
        });
    }

    private static async Task<IResult> RenderAsync(AdminPageKit kit, ApiTokens tokens, Html notice, int statusCode)
    {
        var list = await tokens.ListAsync(kit.Aborted);
        var now = kit.Now;
        var rows = list.Select(t => Html.Of($"""
            <tr>
            <td class="token-name">{t.Name}</td>
            <td class="scope">{ApiTokens.ScopeName(t.Scope)}</td>
            <td>{t.CreatedBy}</td>
            <td>{RelativeTime.Tag(Utc(t.CreatedAt), now)}</td>
            <td>{(t.ExpiresAt is { } expires ? RelativeTime.Tag(Utc(expires), now) : Html.Text("never"))}</td>
            <td>{(t.LastUsedAt is { } used ? RelativeTime.Tag(Utc(used), now) : Html.Text("never"))}</td>
            <td>
            <form method="post" action="/tokens/revoke" data-confirm="Revoke token {t.Name}? Whatever uses it stops working at once.">
            {kit.FormFields}
            <input type="hidden" name="name" value="{t.Name}">
            <button type="submit" class="danger">Revoke</button>
            </form>
            </td>
            </tr>
            """)).ToList();
        var table = rows.Count == 0
            ? Html.Of($"<p class=\"empty\">No API tokens yet.</p>")
            : Html.Of($"""
                <div class="table-scroll">
                <table class="tokens">
                <thead><tr><th>Name</th><th>Scope</th><th>Created by</th><th>Created</th><th>Expires</th><th>Last used</th><th></th></tr></thead>
                <tbody>
                {rows}
                </tbody>
                </table>
                </div>
                """);
        var scopes = new[] { TokenScope.Read, TokenScope.Deploy, TokenScope.Admin }.Select(scope =>
            Html.Of($"<option value=\"{ApiTokens.ScopeName(scope)}\">{ApiTokens.ScopeName(scope)}: {ApiTokens.Describe(scope)}</option>"));
        var create = Html.Of($"""
            <h2>New token</h2>
            <form method="post" action="/tokens" class="token-form">
            {kit.FormFields}
            <div class="field"><label for="token-name">Name</label>
            <input id="token-name" name="name" required maxlength="100" placeholder="ci-bot" autocomplete="off">
            <p class="muted">Letters, digits, '-', '_' and '.'; names the token in the logs and in "token NAME" on deployments.</p></div>
            <div class="field"><label for="token-scope">Scope</label>
            <select id="token-scope" name="scope">{scopes}</select></div>
            <div class="field"><label for="token-expiry">Expires after (days)</label>
            <input id="token-expiry" name="expiresInDays" type="number" min="1" max="{MaxExpiryDays}" placeholder="never">
            <p class="muted">Empty: the token works until it is revoked.</p></div>
            <button type="submit">Create token</button>
            </form>
            """);
        return kit.Page("API tokens", PageSection.Tokens, Html.Of($"{notice}{table}{create}"), statusCode);
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
