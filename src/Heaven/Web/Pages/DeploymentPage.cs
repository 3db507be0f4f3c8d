using Heaven.Access;
using Heaven.Operations;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>GET /deployments/{id}</c>: one deployment: what, where, who, when, the statuses Heaven sent
/// GitHub, links to the gist and GitHub, the live log, and Cancel / Redeploy.
/// </summary>
internal static class DeploymentPage
{
    public static async Task<IResult> RenderAsync(HttpContext http, long id, DeploymentQueries queries)
    {
        var page = PageContextFactory.For(http);
        var detail = await queries.GetAsync(id, page.Aborted);
        var title = $"Deployment {id}";
        if (detail is null || await page.PermissionAsync(detail.Deployment.Repository) is var permission && permission < RepositoryPermission.Read)
        {
            return page.Missing(title, $"There is no deployment {id} you may see.");
        }

        var d = detail.Deployment;
        var finished = d.FinishedAt is not null || d.State is not (DeploymentStates.Queued or DeploymentStates.Running);
        var actions = new List<Html>();
        if (permission >= RepositoryPermission.Deploy)
        {
            if (!finished)
            {
                actions.Add(Html.Of($"<form method=\"post\" action=\"{Html.Url($"/deployments/{id}/cancel")}\" data-confirm=\"Cancel deployment {id}?\">{page.FormFields}<button type=\"submit\" class=\"danger\">Cancel</button></form>"));
            }

            actions.Add(Html.Of($"<form method=\"post\" action=\"{Html.Url($"/deployments/{id}/redeploy")}\" data-confirm=\"Deploy {d.ShortSha} to {d.Environment} again?\">{page.FormFields}<button type=\"submit\">Redeploy</button></form>"));
        }

        var elapsed = d.StartedAt is { } started ? PageContext.Elapsed((d.FinishedAt ?? page.Now) - started) : null;
        var gist = d.GistUrl is { } gistUrl ? Html.Of($" · <a href=\"{Html.Url(gistUrl)}\">Log gist</a>") : Html.Empty;
        var timeline = detail.Statuses.Select(s => Html.Of($"""
            <li>{PageContext.State(s.State)} <span class="description">{s.Description}</span> {page.When(s.QueuedAt)} <span class="delivery">{(s.Delivered ? "sent to GitHub" : s.Failed ? $"not sent: {s.LastError}" : $"not sent yet ({s.Attempts} attempts)")}</span></li>
            """));
        var cancelNote = d.CancelRequestedBy is { } canceller && !finished
            ? Html.Of($"<p class=\"flash notice\">Cancel requested by {canceller}.</p>")
            : Html.Empty;

        var content = Html.Of($"""
            {page.Flash()}
            {cancelNote}
            <p><a href="/">Dashboard</a> · <a href="{Html.Url(PageContext.EnvironmentPath(d.Repository, d.Environment))}">{d.Repository} · {d.Environment}</a> · <a href="{Html.Url(page.GitHubUrl($"{d.Repository}/deployments"))}">Deployments on GitHub</a>{gist}</p>
            <div class="table-scroll"><table class="summary">
            <tbody>
            <tr><th>State</th><td data-deployment-state>{PageContext.State(d.State)}</td></tr>
            <tr><th>Description</th><td class="description">{d.Description}</td></tr>
            <tr><th>Repository</th><td>{d.Repository}</td></tr>
            <tr><th>Environment</th><td class="environment">{d.Environment}</td></tr>
            <tr><th>Ref</th><td class="ref">{d.Ref}</td></tr>
            <tr><th>Commit</th><td>{page.CommitLink(d.Repository, d.Sha)}</td></tr>
            <tr><th>Task</th><td>{d.Task}</td></tr>
            <tr><th>Provider</th><td>{d.Provider}</td></tr>
            <tr><th>By</th><td class="creator">{d.Creator}</td></tr>
            <tr><th>Received</th><td>{page.When(d.CreatedAt)}</td></tr>
            <tr><th>Started</th><td>{page.When(d.StartedAt)}</td></tr>
            <tr><th>Finished</th><td>{page.When(d.FinishedAt)}</td></tr>
            <tr><th>Took</th><td>{elapsed}</td></tr>
            <tr><th>GitHub deployment</th><td>{d.GitHubDeploymentId}</td></tr>
            </tbody>
            </table></div>
            <div class="actions">{Html.Join(actions)}</div>
            <h2>Log</h2>
            {LiveLogView.Render(id)}
            <h2>Statuses sent to GitHub</h2>
            <ol class="timeline">{timeline}</ol>
            """);
        return PageLayout.Result(title, null, page.Chrome, content);
    }
}
