using Heaven.Access;
using Heaven.Operations;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>GET /</c>: every repository the signed-in user may read and each of its environments: what is
/// deployed (ref, commit, who, when), what runs now and for how long, how many wait, and the lock.
/// </summary>
internal static class DashboardPage
{
    public const string Title = "Dashboard";

    public static async Task<IResult> RenderAsync(HttpContext http, DeploymentQueries queries)
    {
        var page = PageContextFactory.For(http);
        var dashboard = await queries.DashboardAsync(page.Aborted);
        var sections = new List<Html>();
        foreach (var repository in dashboard.Repositories)
        {
            if (await page.PermissionAsync(repository.Repository) < RepositoryPermission.Read)
            {
                continue;
            }

            sections.Add(Repository(page, repository));
        }

        var content = sections.Count == 0
            ? Html.Of($"<p class=\"empty\">No deployments you may see yet. Repositories appear here after their first deployment, or when they are configured, and only to people who may read them on GitHub.</p>")
            : Html.Join(sections);
        return PageLayout.Result(Title, PageSection.Dashboard, page.Chrome, Html.Of($"{page.Flash()}{content}"));
    }

    private static Html Repository(PageContext page, RepositoryStatus repository)
    {
        var rows = repository.Environments.Select(environment => Environment(page, repository.Repository, environment));
        return Html.Of($"""
            <section class="repository">
            <h2><a href="{Html.Url(page.GitHubUrl(repository.Repository))}">{repository.Repository}</a></h2>
            <div class="table-scroll"><table>
            <thead><tr><th>Environment</th><th>Deployed</th><th>By</th><th>When</th><th>Latest</th><th>Now</th></tr></thead>
            <tbody>{rows}</tbody>
            </table></div>
            </section>
            """);
    }

    private static Html Environment(PageContext page, string repository, EnvironmentStatus environment)
    {
        var current = environment.Current;
        var deployed = current is null
            ? Html.Of($"<td class=\"deployed\">nothing yet</td><td></td><td></td>")
            : Html.Of($"<td class=\"deployed\"><a class=\"ref\" href=\"{Html.Url(PageContext.DeploymentPath(current.Id))}\">{current.Ref}</a> {page.CommitLink(repository, current.Sha)}</td><td class=\"creator\">{current.Creator}</td><td>{page.When(current.FinishedAt ?? current.CreatedAt)}</td>");
        var latest = environment.Latest is { } last
            ? Html.Of($"<a href=\"{Html.Url(PageContext.DeploymentPath(last.Id))}\">#{last.Id}</a> {PageContext.State(last.State)}")
            : Html.Empty;
        var now = new List<Html>();
        if (environment.Running is { } running)
        {
            var elapsed = running.StartedAt is { } started ? PageContext.Elapsed(page.Now - started) : "starting";
            now.Add(Html.Of($"<a class=\"badge running\" href=\"{Html.Url(PageContext.DeploymentPath(running.Id))}\">Deploying {running.Ref} for {elapsed}</a>"));
        }

        if (environment.Queued > 0)
        {
            now.Add(Html.Of($"<span class=\"badge queued\">{environment.Queued} queued</span>"));
        }

        if (environment.Lock is { } held)
        {
            now.Add(PageContext.LockBadge(held));
        }

        return Html.Of($"""
            <tr data-environment="{environment.Environment}">
            <td class="environment"><a href="{Html.Url(PageContext.EnvironmentPath(repository, environment.Environment))}">{environment.Environment}</a></td>
            {deployed}
            <td class="latest">{latest}</td>
            <td class="now">{Html.Join(now)}</td>
            </tr>
            """);
    }
}
