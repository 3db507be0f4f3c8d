using System.Text.Json;
using Heaven.Access;
using Heaven.Operations;

namespace Heaven.Api;

/// <summary>The body of <c>POST .../environments/{env}/deployments</c>.</summary>
public sealed record DeployCommitRequest(string? Sha);

/// <summary>The body of <c>PUT .../environments/{env}/lock</c>.</summary>
public sealed record LockRequest(string? Reason, DateTimeOffset? ExpiresAt);

/// <summary><c>/api/v1/repositories/{owner}/{repo}/environments/{env}/...</c>: rollback, deploy a commit, lock and unlock; <c>/api/v1/locks</c>.</summary>
internal static class EnvironmentEndpoints
{
    private const string Environment = "/repositories/{owner}/{repo}/environments/{env}";

    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost(Environment + "/rollback", RollbackAsync)
            .RequireAuthorization(AccessPolicies.Deploy)
            .AddEndpointFilter(ApiCaller.ProtectAgainstForgery)
            .WithName("Rollback")
            .WithSummary("Deploys the commit of the last successful deployment before the current one.")
            .Produces<CreatedDeployment>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status409Conflict, StatusCodes.Status502BadGateway);

        api.MapPost(Environment + "/deployments", DeployCommitAsync)
            .RequireAuthorization(AccessPolicies.Deploy)
            .AddEndpointFilter(ApiCaller.ProtectAgainstForgery)
            .WithName("DeployCommit")
            .WithSummary("Deploys one commit (its full sha) with the environment's latest task and payload.")
            .Accepts<DeployCommitRequest>("application/json")
            .Produces<CreatedDeployment>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status502BadGateway);

        api.MapPut(Environment + "/lock", LockAsync)
            .RequireAuthorization(AccessPolicies.Deploy)
            .AddEndpointFilter(ApiCaller.ProtectAgainstForgery)
            .WithName("LockEnvironment")
            .WithSummary("Locks the environment (201), or renews the caller's own lock (200); 409 when someone else holds it.")
            .Accepts<LockRequest>("application/json")
            .Produces<LockView>()
            .Produces<LockView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict);

        api.MapDelete(Environment + "/lock", UnlockAsync)
            .RequireAuthorization(AccessPolicies.Deploy)
            .AddEndpointFilter(ApiCaller.ProtectAgainstForgery)
            .WithName("UnlockEnvironment")
            .WithSummary("Removes the environment's lock, whoever holds it.")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblems(StatusCodes.Status404NotFound);

        api.MapGet("/locks", LocksAsync)
            .RequireAuthorization(AccessPolicies.Read)
            .WithName("ListLocks")
            .WithSummary("Active environment locks (of the repositories a signed-in user may read).")
            .Produces<IReadOnlyList<LockView>>()
            .ProducesProblems();
    }

    private static async Task<IResult> RollbackAsync(string owner, string repo, string env, HttpContext context, DeploymentActions actions)
    {
        env = EnvironmentAddress.FromRoute(env);
        var repository = $"{owner}/{repo}";
        if (await ApiCaller.RequireAsync(context, repository, RepositoryPermission.Deploy) is { } refused)
        {
            return refused;
        }

        return DeploymentEndpoints.Created(await actions.RollbackAsync(repository, env, ApiCaller.Actor(context), context.RequestAborted));
    }

    private static async Task<IResult> DeployCommitAsync(string owner, string repo, string env, HttpContext context, DeploymentActions actions)
    {
        env = EnvironmentAddress.FromRoute(env);
        var repository = $"{owner}/{repo}";
        if (await ApiCaller.RequireAsync(context, repository, RepositoryPermission.Deploy) is { } refused)
        {
            return refused;
        }

        var (body, problem) = await ApiJson.ReadAsync<DeployCommitRequest>(context);
        if (problem is not null)
        {
            return problem;
        }

        if (string.IsNullOrWhiteSpace(body!.Sha))
        {
            return ApiProblems.BadRequest("Send { \"sha\": \"<the commit's full 40-character sha>\" }.");
        }

        return DeploymentEndpoints.Created(await actions.DeployCommitAsync(repository, env, body.Sha, ApiCaller.Actor(context), context.RequestAborted));
    }

    private static async Task<IResult> LockAsync(string owner, string repo, string env, HttpContext context, DeploymentActions actions, ActivityQueries activity, TimeProvider time)
    {
        env = EnvironmentAddress.FromRoute(env);
        var repository = $"{owner}/{repo}";
        if (await ApiCaller.RequireAsync(context, repository, RepositoryPermission.Deploy) is { } refused)
        {
            return refused;
        }

        var (body, problem) = await ApiJson.ReadAsync<LockRequest>(context);
        if (problem is not null)
        {
            return problem;
        }

        if (string.IsNullOrWhiteSpace(body!.Reason))
        {
            return ApiProblems.BadRequest("Say why: send { \"reason\": \"...\" } (and \"expiresAt\" to end the lock on its own).");
        }

        if (body.ExpiresAt is { } expires && expires <= time.GetUtcNow())
        {
            return ApiProblems.BadRequest("expiresAt must be in the future.");
        }

        var before = await FindLockAsync(activity, repository, env, context.RequestAborted);
        var result = await actions.LockAsync(repository, env, body.Reason.Trim(), body.ExpiresAt, ApiCaller.Actor(context), context.RequestAborted);
        if (!result.Succeeded)
        {
            return ApiProblems.From(result);
        }

        var held = await FindLockAsync(activity, repository, env, context.RequestAborted);
        return held is null
            ? ApiProblems.Conflict(result.Message)
            : Results.Json(held, statusCode: before is null ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static async Task<IResult> UnlockAsync(string owner, string repo, string env, HttpContext context, DeploymentActions actions)
    {
        env = EnvironmentAddress.FromRoute(env);
        var repository = $"{owner}/{repo}";
        if (await ApiCaller.RequireAsync(context, repository, RepositoryPermission.Deploy) is { } refused)
        {
            return refused;
        }

        var result = await actions.UnlockAsync(repository, env, ApiCaller.Actor(context), context.RequestAborted);
        return result.Succeeded ? Results.NoContent() : ApiProblems.From(result);
    }

    private static async Task<IResult> LocksAsync(HttpContext context, ActivityQueries activity)
    {
        var active = (await activity.LocksAsync(context.RequestAborted)).Where(l => l.Active).ToList();
        if (ApiCaller.User(context).Kind == HeavenUserKind.Token)
        {
            return Results.Ok(active);
        }

        var readable = new List<LockView>();
        foreach (var held in active)
        {
            if (await ApiCaller.RequireAsync(context, held.Repository, RepositoryPermission.Read) is null)
            {
                readable.Add(held);
            }
        }

        return Results.Ok(readable);
    }

    private static async Task<LockView?> FindLockAsync(ActivityQueries activity, string repository, string environment, CancellationToken cancellationToken) =>
        (await activity.LocksAsync(cancellationToken)).FirstOrDefault(l => l.Active
            && string.Equals(l.Repository, repository, StringComparison.OrdinalIgnoreCase)
            && string.Equals(l.Environment, environment.Trim(), StringComparison.OrdinalIgnoreCase));
}

/// <summary>Request bodies: JSON, read here so a malformed one is a 400 problem that says what is wrong.</summary>
internal static class ApiJson
{
    public static async Task<(T? Body, IResult? Problem)> ReadAsync<T>(HttpContext context)
        where T : class
    {
        if (!context.Request.HasJsonContentType())
        {
            return (null, ApiProblems.BadRequest("Send a JSON body (Content-Type: application/json)."));
        }

        try
        {
            var body = await context.Request.ReadFromJsonAsync<T>(JsonSerializerOptions.Web, context.RequestAborted);
            return body is null ? (null, ApiProblems.BadRequest("The body is empty; send a JSON object.")) : (body, null);
        }
        catch (JsonException e)
        {
            return (null, ApiProblems.BadRequest($"The body is not the JSON expected: {e.Message}"));
        }
    }
}
