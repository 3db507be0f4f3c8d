using Heaven.Access;
using Heaven.Operations;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>/auto-deploy</c>: why Heaven did or did not deploy a commit by itself, newest first, of the
/// repositories the user may read; <c>?repository=owner/name</c> narrows it to one.
/// </summary>
internal static class AutoDeployPage
{
    public const int PageSize = 200;

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/auto-deploy", async (HttpContext context, ActivityQueries queries, string? repository) =>
        {
            var kit = AdminPages.Kit(context);
            var filter = string.IsNullOrWhiteSpace(repository) ? null : repository.Trim();
            var decisions = await queries.AutoDeployDecisionsAsync(filter, PageSize, kit.Aborted);
            var visible = new List<AutoDeployDecisionSummary>(decisions.Count);
            foreach (var decision in decisions)
            {
                if (await kit.PermissionAsync(decision.Repository) >= RepositoryPermission.Read)
                {
                    visible.Add(decision);
                }
            }

            return kit.Page("Auto-deploy", PageSection.AutoDeploy, Render(visible, filter, kit.Now));
        });

    private static Html Render(IReadOnlyList<AutoDeployDecisionSummary> decisions, string? filter, DateTimeOffset now)
    {
        var form = Html.Of($"""
            <form method="get" action="/auto-deploy" class="filter">
            <label for="repository">Repository</label>
            <input id="repository" name="repository" value="{filter ?? ""}" placeholder="owner/name" autocomplete="off">
            <button type="submit">Show</button>
            {(filter is null ? Html.Empty : Html.Of($" <a href=\"/auto-deploy\">All repositories</a>"))}
            </form>
            """);
        if (decisions.Count == 0)
        {
            var empty = filter is null
                ? "No auto-deploy decisions in repositories you may read."
                : $"No auto-deploy decisions for {filter} that you may read.";
            return Html.Of($"{form}<p class=\"empty\">{empty}</p>");
        }

        var rows = decisions.Select(d => Html.Of($"""
            <tr>
            <td>{RelativeTime.Tag(d.DecidedAt, now)}</td>
            <td class="repository"><a href="{Html.Url("/auto-deploy?repository=" + Uri.EscapeDataString(d.Repository))}">{d.Repository}</a></td>
            <td class="environment">{d.Environment}</td>
            <td><code title="{d.Sha}">{d.ShortSha}</code></td>
            <td class="outcome state-{d.Outcome}">{d.Outcome}</td>
            <td class="reason">{d.Reason}</td>
            <td class="trigger">{d.Trigger}</td>
            <td>{(d.GitHubDeploymentId is { } id ? Html.Text(id.ToString(System.Globalization.CultureInfo.InvariantCulture)) : Html.Text("—"))}</td>
            </tr>
            """));
        return Html.Of($"""
            {form}
            <div class="table-scroll">
            <table class="auto-deploy">
            <thead><tr><th>Decided</th><th>Repository</th><th>Environment</th><th>Commit</th><th>Outcome</th><th>Reason</th><th>Trigger</th><th>GitHub deployment</th></tr></thead>
            <tbody>
            {rows}
            </tbody>
            </table>
            </div>
            """);
    }
}
