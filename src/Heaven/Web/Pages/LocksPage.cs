using Heaven.Access;
using Heaven.Operations;

namespace Heaven.Web.Pages;

/// <summary>
/// <c>/locks</c>: the environment locks of the repositories the user may read, expired ones included;
/// <c>POST /locks/unlock</c> removes one, for users who may deploy the repository.
/// </summary>
internal static class LocksPage
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/locks", async (HttpContext context, ActivityQueries queries) =>
        {
            var kit = AdminPages.Kit(context);
            return await RenderAsync(kit, queries, Html.Empty, StatusCodes.Status200OK);
        });

        endpoints.MapPost("/locks/unlock", async (HttpContext context, ActivityQueries queries, DeploymentActions actions) =>
        {
            var kit = AdminPages.Kit(context);
            if (await kit.ReadFormAsync() is not { } form)
            {
                return kit.FormRefused(PageSection.Locks);
            }

            var repository = form["repository"].ToString();
            var environment = form["environment"].ToString();
            if (string.IsNullOrWhiteSpace(repository) || string.IsNullOrWhiteSpace(environment))
            {
                return await RenderAsync(kit, queries, AdminPageKit.Notice("Name the repository and the environment to unlock.", success: false), StatusCodes.Status400BadRequest);
            }

            var permission = await kit.PermissionAsync(repository);
            if (permission < RepositoryPermission.Deploy)
            {
                // Someone who may not read the repository learns nothing about its locks either.
                var refusal = permission >= RepositoryPermission.Read
                    ? $"You may read {repository} but not deploy it, so you may not unlock {environment}."
                    : $"You may not unlock environments of {repository}.";
                return await RenderAsync(kit, queries, AdminPageKit.Notice(refusal, success: false), StatusCodes.Status403Forbidden);
            }

            var result = await actions.UnlockAsync(repository, environment, kit.User.DisplayName, kit.Aborted);
            var status = result.Status switch
            {
                ActionStatus.Done => StatusCodes.Status200OK,
                ActionStatus.NotFound => StatusCodes.Status404NotFound,
                _ => StatusCodes.Status409Conflict,
            };
            return await RenderAsync(kit, queries, AdminPageKit.Notice(result.Message, result.Succeeded), status);
        });
    }

    private static async Task<IResult> RenderAsync(AdminPageKit kit, ActivityQueries queries, Html notice, int statusCode)
    {
        var locks = await queries.LocksAsync(kit.Aborted);
        var rows = new List<Html>();
        foreach (var l in locks)
        {
            var permission = await kit.PermissionAsync(l.Repository);
            if (permission < RepositoryPermission.Read)
            {
                continue;
            }

            var unlock = permission >= RepositoryPermission.Deploy
                ? Html.Of($"""
                    <form method="post" action="/locks/unlock" data-confirm="Unlock {l.Environment} of {l.Repository} (locked by {l.LockedBy})?">
                    {kit.FormFields}
                    <input type="hidden" name="repository" value="{l.Repository}">
                    <input type="hidden" name="environment" value="{l.Environment}">
                    <button type="submit" class="danger">Unlock</button>
                    </form>
                    """)
                : Html.Empty;
            rows.Add(Html.Of($"""
                <tr class="{(l.Active ? "lock-active" : "lock-expired")}">
                <td class="repository">{l.Repository}</td>
                <td class="environment">{l.Environment}</td>
                <td class="locked-by">{l.LockedBy}</td>
                <td class="reason">{l.Reason ?? ""}</td>
                <td>{RelativeTime.Tag(l.LockedAt, kit.Now)}</td>
                <td>{(l.Active ? AdminPageKit.Time(l.ExpiresAt, kit.Now, "until unlocked") : Html.Of($"expired {AdminPageKit.Time(l.ExpiresAt, kit.Now)}"))}</td>
                <td>{unlock}</td>
                </tr>
                """));
        }

        var table = rows.Count == 0
            ? Html.Of($"<p class=\"empty\">No environment of a repository you may read is locked.</p>")
            : Html.Of($"""
                <div class="table-scroll">
                <table class="locks">
                <thead><tr><th>Repository</th><th>Environment</th><th>Locked by</th><th>Reason</th><th>Since</th><th>Expires</th><th></th></tr></thead>
                <tbody>
                {rows}
                </tbody>
                </table>
                </div>
                """);
        return kit.Page("Locks", PageSection.Locks, Html.Of($"{notice}{table}"), statusCode);
    }
}
