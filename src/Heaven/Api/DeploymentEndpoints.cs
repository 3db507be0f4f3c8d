using System.Globalization;
using Heaven.Access;
using Heaven.Operations;

namespace Heaven.Api;

/// <summary>A created GitHub deployment: Heaven runs it when GitHub's <c>deployment</c> webhook arrives.</summary>
/// <param name="BasedOn">The Heaven deployment whose commit, task and payload it copies.</param>
public sealed record CreatedDeployment([property: System.Text.Json.Serialization.JsonPropertyName("githubDeploymentId")] long GitHubDeploymentId, long? BasedOn, string Message);

/// <summary>What an action answers when it was done.</summary>
public sealed record ActionMessage(string Message, long? DeploymentId);

/// <summary><c>/api/v1/deployments</c>: the list, one deployment with its statuses, cancel and redeploy.</summary>
internal static class DeploymentEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/deployments", ListAsync)
            .RequireAuthorization(AccessPolicies.Read)
            .WithName("ListDeployments")
            .WithSummary("Deployments newest first, filtered by repository, environment and state.")
            .Produces<IReadOnlyList<DeploymentSummary>>()
            .ProducesProblems(StatusCodes.Status400BadRequest);

        api.MapGet("/deployments/{id:long}", GetAsync)
            .RequireAuthorization(AccessPolicies.Read)
            .WithName("GetDeployment")
            .WithSummary("One deployment and the statuses Heaven posted for it.")
            .Produces<DeploymentWithStatuses>()
            .ProducesProblems(StatusCodes.Status404NotFound);

        api.MapPost("/deployments/{id:long}/cancel", CancelAsync)
            .RequireAuthorization(AccessPolicies.Deploy)
            .AddEndpointFilter(ApiCaller.ProtectAgainstForgery)
            .WithName("CancelDeployment")
            .WithSummary("Cancels a queued or running deployment.")
            .Produces<ActionMessage>(StatusCodes.Status202Accepted)
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);

        api.MapPost("/deployments/{id:long}/redeploy", RedeployAsync)
            .RequireAuthorization(AccessPolicies.Deploy)
            .AddEndpointFilter(ApiCaller.ProtectAgainstForgery)
            .WithName("Redeploy")
            .WithSummary("Creates a GitHub deployment of the same commit, environment, task and payload.")
            .Produces<CreatedDeployment>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status502BadGateway);
    }

    private static async Task<IResult> ListAsync(HttpContext context, DeploymentQueries queries, string? repository, string? environment, string? state, string? limit)
    {
        var count = DeploymentFilter.DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > DeploymentFilter.MaxLimit))
        {
            return ApiProblems.BadRequest($"limit must be a number from 1 to {DeploymentFilter.MaxLimit}.");
        }

        if (state is not null && DeploymentStates.Parse(state) is null)
        {
            return ApiProblems.BadRequest($"'{state}' is not a state; one of {string.Join(", ", DeploymentStates.All)}.");
        }

        if (repository is not null && !RepositoryNames.IsValid(repository))
        {
            return ApiProblems.BadRequest("repository is named owner/name.");
        }

        if (environment is not null && string.IsNullOrWhiteSpace(environment))
        {
            return ApiProblems.BadRequest("environment must not be empty.");
        }

        if (ApiCaller.User(context).Kind == HeavenUserKind.GitHub)
        {
            // Which repositories a GitHub user may read is GitHub's answer per repository: they name one.
            if (repository is null)
            {
                return ApiProblems.BadRequest("Signed in with GitHub, name the repository (?repository=owner/name); API tokens list every repository.");
            }

            if (await ApiCaller.RequireAsync(context, repository, RepositoryPermission.Read) is { } refused)
            {
                return refused;
            }
        }

        var filter = new DeploymentFilter { Repository = repository, Environment = environment, State = state, Limit = count };
        return Results.Ok(await queries.ListAsync(filter, context.RequestAborted));
    }

    private static async Task<IResult> GetAsync(long id, HttpContext context, DeploymentQueries queries)
    {
        var detail = await queries.GetAsync(id, context.RequestAborted);
        if (detail is null)
        {
            return ApiProblems.NotFound($"There is no deployment {id}.");
        }

        if (await ApiCaller.RequireAsync(context, detail.Deployment.Repository, RepositoryPermission.Read) is { } refused)
        {
            return refused;
        }

        return Results.Ok(DeploymentWithStatuses.From(detail));
    }

    private static async Task<IResult> CancelAsync(long id, HttpContext context, DeploymentQueries queries, DeploymentActions actions)
    {
        if (await RefuseAsync(id, context, queries) is { } refused)
        {
            return refused;
        }

        var result = await actions.CancelAsync(id, ApiCaller.Actor(context), context.RequestAborted);
        return result.Succeeded ? Results.Json(new ActionMessage(result.Message, id), statusCode: StatusCodes.Status202Accepted) : ApiProblems.From(result);
    }

    private static async Task<IResult> RedeployAsync(long id, HttpContext context, DeploymentQueries queries, DeploymentActions actions)
    {
        if (await RefuseAsync(id, context, queries) is { } refused)
        {
            return refused;
        }

        var result = await actions.RedeployAsync(id, ApiCaller.Actor(context), context.RequestAborted);
        return Created(result);
    }

    /// <summary>404 for no such deployment, 403 without push permission on its repository; null to go on.</summary>
    private static async Task<IResult?> RefuseAsync(long id, HttpContext context, DeploymentQueries queries)
    {
        var repository = await queries.RepositoryOfAsync(id, context.RequestAborted);
        if (repository is null)
        {
            return ApiProblems.NotFound($"There is no deployment {id}.");
        }

        return await ApiCaller.RequireAsync(context, repository, RepositoryPermission.Deploy);
    }

    /// <summary>201 with the GitHub deployment created (there is no Heaven deployment to point at until GitHub's webhook arrives).</summary>
    internal static IResult Created(ActionResult result) =>
        result is { Succeeded: true, GitHubDeploymentId: { } created }
            ? Results.Json(new CreatedDeployment(created, result.DeploymentId, result.Message), statusCode: StatusCodes.Status201Created)
            : ApiProblems.From(result);
}

/// <summary>A deployment with its statuses: the fields of <see cref="DeploymentSummary"/> plus <c>statuses</c>.</summary>
public sealed record DeploymentWithStatuses(
    long Id,
    [property: System.Text.Json.Serialization.JsonPropertyName("githubDeploymentId")] long GitHubDeploymentId,
    string Repository,
    string Environment,
    string Ref,
    string Sha,
    string Task,
    string? Provider,
    string State,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Description,
    string? Creator,
    string? GistUrl,
    string? CancelRequestedBy,
    IReadOnlyList<StatusTimelineEntry> Statuses)
{
    public static DeploymentWithStatuses From(DeploymentDetail detail)
    {
        var d = detail.Deployment;
        return new(d.Id, d.GitHubDeploymentId, d.Repository, d.Environment, d.Ref, d.Sha, d.Task, d.Provider, d.State, d.CreatedAt, d.StartedAt, d.FinishedAt, d.Description, d.Creator, d.GistUrl, d.CancelRequestedBy, detail.Statuses);
    }
}

internal static class RepositoryNames
{
    public static bool IsValid(string repository) =>
        repository.Split('/') is [{ Length: > 0 } owner, { Length: > 0 } name] && owner.Trim() == owner && name.Trim() == name;
}
