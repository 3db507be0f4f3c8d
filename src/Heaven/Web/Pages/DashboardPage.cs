using System.Globalization;
using Heaven.Access;
using Heaven.Operations;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>GET /</c>: the repositories the signed-in user may read, <see cref="PageSize"/> a page, the most
/// recently deployed first, optionally only names containing <c>?q=</c>; each with its environments:
/// what is deployed (ref, commit, who, when), what runs now and for how long, how many wait, and the lock.
/// </summary>
internal static class DashboardPage
{
    public const string Title = "Dashboard";

    public const int PageSize = 50;

    public static async Task<IResult> RenderAsync(HttpContext http, DeploymentQueries queries)
    {
        var page = PageContextFactory.For(http);
        var filter = http.Request.Query["q"].ToString().Trim();
        var number = int.TryParse(http.Request.Query["page"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var asked) && asked >= 1 ? asked : 1;
        var names = await queries.DashboardRepositoriesAsync(filter, page.Aborted);

        // Who may read what is GitHub's answer, per repository: filter before paging, walking the list
        // in order only as far as this page (and one more, to know whether an older page exists).
        var skip = (long)(number - 1) * PageSize;
        var readable = new List<string>();
        for (var at = 0; skip < names.Count && at < names.Count && readable.Count <= skip + PageSize; at += PageSize)
        {
            var chunk = names.Skip(at).Take(PageSize).ToList();
            var permissions = await Task.WhenAll(chunk.Select(page.PermissionAsync));
            readable.AddRange(chunk.Where((_, i) => permissions[i] >= RepositoryPermission.Read));
        }

        var shown = readable.Skip((int)Math.Min(skip, int.MaxValue)).Take(PageSize).ToList();
        var dashboard = await queries.DashboardAsync(shown, page.Aborted);
        var sections = dashboard.Repositories.Select(repository => Repository(page, repository)).ToList();
        var older = readable.Count > skip + PageSize;
        var content = Html.Of($"{Filter(filter)}{(sections.Count == 0 ? Empty(filter, number) : Html.Join(sections))}{Pager(filter, number, older, sections.Count > 0)}");
        return PageLayout.Result(Title, PageSection.Dashboard, page.Chrome, Html.Of($"{page.Flash()}{content}"));
    }

    private static string PagePath(string filter, int number)
    {
        var query = new List<string>();
        if (filter.Length > 0)
        {
            query.Add("q=" + Uri.EscapeDataString(filter));
        }

        if (number > 1)
        {
            query.Add("page=" + number.ToString(CultureInfo.InvariantCulture));
        }

        return query.Count == 0 ? "/" : "/?" + string.Join("&", query);
    }

    private static Html Filter(string filter) => Html.Of($"""
        <form method="get" action="/" class="filter" role="search">
        <label for="q">Repository name contains</label>
        <input id="q" name="q" type="search" value="{filter}" placeholder="owner/name" autocomplete="off">
        <button type="submit">Find</button>
        {(filter.Length == 0 ? Html.Empty : Html.Of($" <a href=\"/\">All repositories</a>"))}
        </form>
        """);

    private static Html Empty(string filter, int number)
    {
        if (number > 1)
        {
            return Html.Of($"<p class=\"empty\">There is no page {number.ToString(CultureInfo.InvariantCulture)} of repositories you may see. <a href=\"{Html.Url(PagePath(filter, 1))}\">Back to the first page</a></p>");
        }

        return filter.Length > 0
            ? Html.Of($"<p class=\"empty\">No repository you may see has a name containing “{filter}”. <a href=\"/\">All repositories</a></p>")
            : Html.Of($"<p class=\"empty\">No deployments you may see yet. Repositories appear here after their first deployment, or when they are configured, and only to people who may read them on GitHub.</p>");
    }

    private static Html Pager(string filter, int number, bool older, bool any)
    {
        if (!any || (number == 1 && !older))
        {
            return Html.Empty;
        }

        var links = new List<Html>();
        if (number > 1)
        {
            links.Add(Html.Of($"<a rel=\"prev\" href=\"{Html.Url(PagePath(filter, number - 1))}\">Newer repositories</a>"));
        }

        links.Add(Html.Of($"<span aria-current=\"page\">Page {number.ToString(CultureInfo.InvariantCulture)}</span>"));
        if (older)
        {
            links.Add(Html.Of($"<a rel=\"next\" href=\"{Html.Url(PagePath(filter, number + 1))}\">Older repositories</a>"));
        }

        return Html.Of($"<nav class=\"pager\" aria-label=\"Repository pages\"><p>{Html.Join(links.Select((l, i) => i == 0 ? l : Html.Of($" · {l}")))}</p></nav>");
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
