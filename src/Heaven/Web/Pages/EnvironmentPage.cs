using System.Globalization;
using Heaven.Access;
using Heaven.GitHub;
using Heaven.Operations;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>GET /repos/{owner}/{repo}/environments/{environment}</c>: what is deployed, the lock, the commits
/// of the default branch not deployed yet (with CI results and a Deploy button each), Rollback, Lock
/// and Unlock, and the environment's history, newest first, a page at a time.
/// </summary>
internal static class EnvironmentPage
{
    public const int PageSize = 25;

    public static async Task<IResult> RenderAsync(HttpContext http, string owner, string repo, string environment, long? before, DeploymentQueries queries)
    {
        environment = EnvironmentAddress.FromRoute(environment);
        var page = PageContextFactory.For(http);
        var repository = $"{owner}/{repo}";
        var title = $"{repository} · {environment}";
        var permission = await page.PermissionAsync(repository);
        if (permission < RepositoryPermission.Read)
        {
            return page.Missing(title, $"There is no repository {repository} you may see.");
        }

        var history = await queries.EnvironmentAsync(repository, environment, before, page.Aborted, PageSize);
        var canDeploy = permission >= RepositoryPermission.Deploy;
        var path = PageContext.EnvironmentPath(repository, environment);

        var current = history.Current is { } deployed
            ? Html.Of($"<p class=\"current\">Deployed: <a class=\"ref\" href=\"{Html.Url(PageContext.DeploymentPath(deployed.Id))}\">{deployed.Ref}</a> {page.CommitLink(repository, deployed.Sha)} by <span class=\"creator\">{deployed.Creator}</span> {page.When(deployed.FinishedAt ?? deployed.CreatedAt)}</p>")
            : Html.Of($"<p class=\"current\">Nothing deployed here successfully yet.</p>");
        var locked = history.Lock is { } held ? Html.Of($"<p>{PageContext.LockBadge(held)}</p>") : Html.Empty;

        var actions = Html.Empty;
        if (canDeploy)
        {
            var lockForm = history.Lock is null
                ? Html.Of($"""
                    <form method="post" action="{Html.Url(path + "/lock")}" class="lock-form">{page.FormFields}
                    <div class="field"><label for="lock-reason">Reason</label><input id="lock-reason" name="reason" maxlength="500"></div>
                    <div class="field"><label for="lock-expires">Until (UTC, optional)</label><input id="lock-expires" name="expires" type="datetime-local"></div>
                    <button type="submit">Lock</button>
                    </form>
                    """)
                : Html.Of($"<form method=\"post\" action=\"{Html.Url(path + "/unlock")}\" data-confirm=\"Unlock {environment}?\">{page.FormFields}<button type=\"submit\" class=\"danger\">Unlock</button></form>");
            actions = Html.Of($"""
                <section class="actions">
                <h2>Actions</h2>
                <form method="post" action="{Html.Url(path + "/rollback")}" data-confirm="Roll {environment} back to the previous deployed commit?">{page.FormFields}<button type="submit" class="danger">Rollback</button></form>
                {lockForm}
                </section>
                """);
        }

        var undeployed = before is null ? await UndeployedAsync(page, queries, repository, environment, path, canDeploy) : Html.Empty;
        var rows = history.Deployments.Select(d => Html.Of($"""
            <tr>
            <td><a href="{Html.Url(PageContext.DeploymentPath(d.Id))}">#{d.Id}</a></td>
            <td class="ref">{d.Ref}</td>
            <td>{page.CommitLink(repository, d.Sha)}</td>
            <td>{d.Task}</td>
            <td class="creator">{d.Creator}</td>
            <td>{page.When(d.CreatedAt)}</td>
            <td>{PageContext.State(d.State)}</td>
            <td class="description">{d.Description}</td>
            </tr>
            """));
        var older = history.NextBeforeId is { } next
            ? Html.Of($"<p><a class=\"older\" href=\"{Html.Url($"{path}?before={next.ToString(CultureInfo.InvariantCulture)}")}\">Older deployments</a></p>")
            : Html.Empty;
        var newest = before is null ? Html.Empty : Html.Of($"<p><a href=\"{Html.Url(path)}\">Newest deployments</a></p>");

        var content = Html.Of($"""
            {page.Flash()}
            <p><a href="/">Dashboard</a> · <a href="{Html.Url(page.GitHubUrl(repository))}">{repository} on GitHub</a></p>
            {current}
            {locked}
            {actions}
            {undeployed}
            <section class="history">
            <h2>History</h2>
            <div class="table-scroll"><table>
            <thead><tr><th>Id</th><th>Ref</th><th>Commit</th><th>Task</th><th>By</th><th>When</th><th>State</th><th>Description</th></tr></thead>
            <tbody>{rows}</tbody>
            </table></div>
            {newest}{older}
            </section>
            """);
        return PageLayout.Result(title, null, page.Chrome, content);
    }

    private static async Task<Html> UndeployedAsync(PageContext page, DeploymentQueries queries, string repository, string environment, string path, bool canDeploy)
    {
        UndeployedCommits commits;
        try
        {
            commits = await queries.UndeployedCommitsAsync(repository, environment, page.Aborted);
        }
        catch (GitHubRejectedException e)
        {
            return Section(Html.Of($"<p class=\"flash problem\">GitHub did not compare the commits: {e.Message}</p>"));
        }
        catch (Exception e) when (e is GitHubTransientException or HttpRequestException)
        {
            return Section(Html.Of($"<p class=\"flash problem\">GitHub could not be reached to compare the commits.</p>"));
        }

        if (commits.DeployedSha is null)
        {
            return Section(Html.Of($"<p>Nothing is deployed here yet, so there is nothing to compare with {commits.DefaultBranch}.</p>"));
        }

        if (commits.Commits.Count == 0)
        {
            return Section(Html.Of($"<p>{environment} has every commit of {commits.DefaultBranch}.</p>"));
        }

        var rows = commits.Commits.Reverse().Select(commit =>
        {
            var checks = commit.Statuses.Select(s => Html.Of($"<li class=\"state-{s.State}\">{s.Context}: {s.State}</li>"))
                .Concat(commit.CheckRuns.Select(r => Html.Of($"<li class=\"state-{r.Conclusion ?? r.Status}\">{r.Name}: {r.Conclusion ?? r.Status}</li>")));
            var deploy = canDeploy
                ? Html.Of($"<form method=\"post\" action=\"{Html.Url(path + "/deploy")}\" data-confirm=\"Deploy {CommitShort(commit.Sha)} to {environment}?\">{page.FormFields}<input type=\"hidden\" name=\"sha\" value=\"{commit.Sha}\"><button type=\"submit\">Deploy</button></form>")
                : Html.Empty;
            return Html.Of($"""
                <tr>
                <td>{page.CommitLink(repository, commit.Sha)}</td>
                <td class="message">{FirstLine(commit.Message)}</td>
                <td class="creator">{commit.Author}</td>
                <td>{PageContext.State(commit.CombinedState)}<ul class="checks">{checks}</ul></td>
                <td>{deploy}</td>
                </tr>
                """);
        });
        var more = commits.TotalCommits > commits.Commits.Count
            ? Html.Of($"<p>{commits.TotalCommits} commits in all; <a href=\"{Html.Url(commits.CompareUrl)}\">compare on GitHub</a>.</p>")
            : Html.Empty;
        return Section(Html.Of($"""
            <div class="table-scroll"><table>
            <thead><tr><th>Commit</th><th>Message</th><th>Author</th><th>CI</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
            </table></div>
            {more}
            """));

        Html Section(Html inner) => Html.Of($"<section class=\"undeployed\"><h2>Not deployed yet</h2>{inner}</section>");
    }

    private static string CommitShort(string sha) => Heaven.Model.CommitSha.Abbreviated(sha);

    private static string FirstLine(string message) => message.Split('\n', 2)[0];
}
