using System.Globalization;
using Heaven.Access;
using Heaven.Operations;

namespace Heaven.Web.Pages;

/// <summary>
/// The dashboard, environment and deployment pages and the forms they post. Every page checks that
/// the user may read the repository; every action that they may deploy to it (403 otherwise) and that
/// the form came from one of Heaven's pages (antiforgery token; 400 otherwise). An action redirects back
/// to its page with what happened as the page's message.
/// </summary>
public static class DeploymentPages
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", DashboardPage.RenderAsync);
        endpoints.MapGet("/deployments/{id:long}", DeploymentPage.RenderAsync);
        endpoints.MapGet("/repos/{owner}/{repo}/environments/{environment}", EnvironmentPage.RenderAsync);

        endpoints.MapPost("/deployments/{id:long}/cancel", (HttpContext http, long id, DeploymentQueries queries, DeploymentActions actions) =>
            OnDeploymentAsync(http, id, queries, (actor, token) => actions.CancelAsync(id, actor, token)));
        endpoints.MapPost("/deployments/{id:long}/redeploy", (HttpContext http, long id, DeploymentQueries queries, DeploymentActions actions) =>
            OnDeploymentAsync(http, id, queries, (actor, token) => actions.RedeployAsync(id, actor, token)));

        const string environment = "/repos/{owner}/{repo}/environments/{environment}";
        endpoints.MapPost(environment + "/rollback", (HttpContext http, string owner, string repo, string environment, DeploymentActions actions) =>
            OnEnvironmentAsync(http, owner, repo, environment, (repository, environment, _, actor, token) => actions.RollbackAsync(repository, environment, actor, token)));
        endpoints.MapPost(environment + "/deploy", (HttpContext http, string owner, string repo, string environment, DeploymentActions actions) =>
            OnEnvironmentAsync(http, owner, repo, environment, (repository, environment, form, actor, token) => actions.DeployCommitAsync(repository, environment, form["sha"].ToString().Trim(), actor, token)));
        endpoints.MapPost(environment + "/lock", (HttpContext http, string owner, string repo, string environment, DeploymentActions actions) =>
            OnEnvironmentAsync(http, owner, repo, environment, (repository, environment, form, actor, token) =>
            {
                var reason = form["reason"].ToString().Trim();
                var expires = form["expires"].ToString().Trim();
                if (expires.Length == 0)
                {
                    return actions.LockAsync(repository, environment, reason.Length == 0 ? null : reason, null, actor, token);
                }

                // datetime-local sends no zone: the form says the time is UTC.
                return DateTime.TryParse(expires, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var until)
                    ? actions.LockAsync(repository, environment, reason.Length == 0 ? null : reason, new DateTimeOffset(until, TimeSpan.Zero), actor, token)
                    : Task.FromResult(new ActionResult(ActionStatus.Invalid, $"'{expires}' is not a time; leave it empty to lock until unlocked."));
            }));
        endpoints.MapPost(environment + "/unlock", (HttpContext http, string owner, string repo, string environment, DeploymentActions actions) =>
            OnEnvironmentAsync(http, owner, repo, environment, (repository, environment, _, actor, token) => actions.UnlockAsync(repository, environment, actor, token)));
    }

    private static async Task<IResult> OnDeploymentAsync(HttpContext http, long id, DeploymentQueries queries, Func<string, CancellationToken, Task<ActionResult>> act)
    {
        var page = PageContextFactory.For(http);
        var detail = await queries.GetAsync(id, page.Aborted);
        if (detail is null || await page.PermissionAsync(detail.Deployment.Repository) < RepositoryPermission.Read)
        {
            return page.Missing($"Deployment {id}", $"There is no deployment {id} you may see.");
        }

        return await ActAsync(page, detail.Deployment.Repository, PageContext.DeploymentPath(id), async (_, actor) =>
        {
            var result = await act(actor, page.Aborted);
            // A redeploy made a new deployment elsewhere; its page opens once GitHub's webhook has arrived.
            return result;
        });
    }

    private static async Task<IResult> OnEnvironmentAsync(HttpContext http, string owner, string repo, string segment, Func<string, string, IFormCollection, string, CancellationToken, Task<ActionResult>> act)
    {
        var environment = EnvironmentAddress.FromRoute(segment);
        var page = PageContextFactory.For(http);
        var repository = $"{owner}/{repo}";
        if (await page.PermissionAsync(repository) < RepositoryPermission.Read)
        {
            return page.Missing($"{repository} · {environment}", $"There is no repository {repository} you may see.");
        }

        return await ActAsync(page, repository, PageContext.EnvironmentPath(repository, environment), (form, actor) => act(repository, environment, form, actor, page.Aborted));
    }

    private static async Task<IResult> ActAsync(PageContext page, string repository, string back, Func<IFormCollection, string, Task<ActionResult>> act)
    {
        if (page.User is not { } user || await page.PermissionAsync(repository) < RepositoryPermission.Deploy)
        {
            return page.Refused("Not allowed", $"You may look at {repository} but not deploy it, cancel its deployments or lock it: that needs write access to it on GitHub.");
        }

        if (!page.Http.Request.HasFormContentType || !await page.FormIsGenuineAsync())
        {
            return PageLayout.Result("Form refused", null, page.Chrome, Html.Of($"<p class=\"flash problem\">The form was not sent from Heaven's own page (antiforgery token missing or wrong). Go back, reload the page and try again.</p>"), StatusCodes.Status400BadRequest);
        }

        var form = await page.Http.Request.ReadFormAsync(page.Aborted);
        var result = await act(form, user.DisplayName);
        return PageContext.Back(back, result);
    }
}
