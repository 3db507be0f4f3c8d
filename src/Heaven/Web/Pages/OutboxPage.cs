using Heaven.Operations;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>/outbox</c>: what Heaven still has to tell GitHub and chat (statuses, messages, commit events for
/// auto-deploy), newest first; <c>?problems=1</c> shows only items that failed or wait for a retry.
/// Administrators only: items span every repository, and their errors quote what GitHub or a chat
/// service answered.
/// </summary>
internal static class OutboxPage
{
    public const int PageSize = 100;

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/outbox", async (HttpContext context, ActivityQueries queries, string? problems, long? before) =>
        {
            var kit = AdminPages.Kit(context);
            if (!kit.IsAdmin)
            {
                return kit.Forbidden(PageSection.Outbox, "see the outbox (it spans every repository and quotes what GitHub and chat services answered)");
            }

            var problemsOnly = problems is "1" or "true" or "on";
            var items = await queries.OutboxAsync(PageSize, problemsOnly, kit.Aborted, before);
            return kit.Page("Outbox", PageSection.Outbox, Render(items, problemsOnly, kit.Now));
        });

    private static Html Render(IReadOnlyList<OutboxItemSummary> items, bool problemsOnly, DateTimeOffset now)
    {
        var filter = problemsOnly
            ? Html.Of($"<p class=\"filter\">Showing problems only (failed, or waiting for a retry after a failed attempt). <a href=\"/outbox\">Show all items</a></p>")
            : Html.Of($"<p class=\"filter\"><a href=\"/outbox?problems=1\">Show problems only</a></p>");
        if (items.Count == 0)
        {
            var empty = problemsOnly ? "No problems: nothing failed or waits for a retry." : "The outbox is empty.";
            return Html.Of($"{filter}<p class=\"empty\">{empty}</p>");
        }

        var rows = items.Select(item => Html.Of($"""
            <tr class="outbox-{item.State}">
            <td>{item.Id}</td>
            <td class="kind"><code>{item.Kind}</code></td>
            <td class="about">{About(item)}</td>
            <td class="state state-{item.State}">{item.State}</td>
            <td>{item.Attempts}</td>
            <td>{RelativeTime.Tag(item.CreatedAt, now)}</td>
            <td>{AdminPageKit.Time(item.NextAttemptAt, now)}</td>
            <td class="last-error">{item.LastError ?? ""}</td>
            </tr>
            """));
        var older = items.Count == PageSize
            ? Html.Of($"<p><a href=\"{Html.Url($"/outbox?before={items[^1].Id}" + (problemsOnly ? "&problems=1" : ""))}\">Older items</a></p>")
            : Html.Empty;
        return Html.Of($"""
            {filter}
            <div class="table-scroll">
            <table class="outbox">
            <thead><tr><th>#</th><th>Kind</th><th>About</th><th>State</th><th>Attempts</th><th>Created</th><th>Next attempt</th><th>Last error</th></tr></thead>
            <tbody>
            {rows}
            </tbody>
            </table>
            </div>
            {older}
            """);
    }

    private static Html About(OutboxItemSummary item)
    {
        var repository = item.Repository is { } name ? Html.Text(name) : Html.Text("—");
        return item.DeploymentId is { } id
            ? Html.Of($"{repository}, deployment <a href=\"{Html.Url($"/deployments/{id}")}\">{id}</a>")
            : repository;
    }
}
