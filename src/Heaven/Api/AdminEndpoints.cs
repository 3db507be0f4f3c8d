using System.Globalization;
using Heaven.Access;
using Heaven.Intake;
using Heaven.Operations;

namespace Heaven.Api;

/// <summary>An API token as listed: never its text or hash.</summary>
public sealed record TokenView(string Name, string Scope, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, string CreatedBy);

/// <summary>A token just made: <see cref="Token"/> is shown this once.</summary>
public sealed record CreatedTokenView(string Name, string Scope, DateTimeOffset? ExpiresAt, string Token);

/// <summary>The body of <c>POST /api/v1/tokens</c>.</summary>
public sealed record TokenRequest(string? Name, string? Scope, int? ExpiresInDays);

/// <summary>What redelivering answered.</summary>
public sealed record RedeliveryView(string Status, string Message, string? NewDeliveryId, string? Result, long? DeploymentId);

/// <summary>The antiforgery token a signed-in browser sends with changes (header <see cref="HeaderName"/>).</summary>
public sealed record AntiforgeryView(string HeaderName, string Token);

/// <summary>
/// Administration (scope <c>admin</c>, or a GitHub login in <c>Web:Administrators</c>): API tokens, and
/// the lists that span every repository: the delivery log, the outbox, auto-deploy decisions.
/// </summary>
internal static class AdminEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/tokens", ListTokensAsync)
            .RequireAuthorization(AccessPolicies.Admin)
            .WithName("ListTokens").WithSummary("API tokens (names, scopes, dates; never the token).")
            .Produces<IReadOnlyList<TokenView>>().ProducesProblems();

        api.MapPost("/tokens", CreateTokenAsync)
            .RequireAuthorization(AccessPolicies.Admin)
            .AddEndpointFilter(ApiCaller.ProtectAgainstForgery)
            .WithName("CreateToken").WithSummary("Makes a token; the answer holds its text, shown this once.")
            .Accepts<TokenRequest>("application/json")
            .Produces<CreatedTokenView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict);

        api.MapDelete("/tokens/{name}", RevokeTokenAsync)
            .RequireAuthorization(AccessPolicies.Admin)
            .AddEndpointFilter(ApiCaller.ProtectAgainstForgery)
            .WithName("RevokeToken").WithSummary("Revokes a token; it stops working at once.")
            .Produces(StatusCodes.Status204NoContent).ProducesProblems(StatusCodes.Status404NotFound);

        api.MapGet("/deliveries", DeliveriesAsync)
            .RequireAuthorization(AccessPolicies.Admin)
            .WithName("ListDeliveries").WithSummary("The webhook delivery log, newest first.")
            .Produces<IReadOnlyList<DeliverySummary>>().ProducesProblems(StatusCodes.Status400BadRequest);

        api.MapGet("/deliveries/{id}", DeliveryAsync)
            .RequireAuthorization(AccessPolicies.Admin)
            .WithName("GetDelivery").WithSummary("One delivery with its body.")
            .Produces<DeliveryDetail>().ProducesProblems(StatusCodes.Status404NotFound);

        api.MapPost("/deliveries/{id}/redeliver", RedeliverAsync)
            .RequireAuthorization(AccessPolicies.Admin)
            .AddEndpointFilter(ApiCaller.ProtectAgainstForgery)
            .WithName("RedeliverDelivery").WithSummary("Runs a stored delivery through the intake again.")
            .Produces<RedeliveryView>().ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);

        api.MapGet("/outbox", OutboxAsync)
            .RequireAuthorization(AccessPolicies.Admin)
            .WithName("ListOutbox").WithSummary("Outbox items (statuses, chat messages, auto-deploy events), newest first; ?problems=true for failed or retrying ones.")
            .Produces<IReadOnlyList<OutboxItemSummary>>().ProducesProblems(StatusCodes.Status400BadRequest);

        api.MapGet("/autodeploy", AutoDeployAsync)
            .RequireAuthorization(AccessPolicies.Admin)
            .WithName("ListAutoDeployDecisions").WithSummary("Auto-deploy decisions, newest first.")
            .Produces<IReadOnlyList<AutoDeployDecisionSummary>>().ProducesProblems(StatusCodes.Status400BadRequest);

        api.MapGet("/antiforgery", (HttpContext context, Microsoft.AspNetCore.Antiforgery.IAntiforgery antiforgery) =>
            {
                var tokens = antiforgery.GetAndStoreTokens(context);
                context.Response.Headers.CacheControl = "no-store";
                return Results.Ok(new AntiforgeryView(tokens.HeaderName ?? "X-Heaven-Antiforgery", tokens.RequestToken ?? ""));
            })
            .RequireAuthorization(AccessPolicies.Read)
            .WithName("GetAntiforgeryToken").WithSummary("For signed-in browsers: the token changes made with the session cookie send in X-Heaven-Antiforgery.")
            .Produces<AntiforgeryView>().ProducesProblems();
    }

    private static async Task<IResult> ListTokensAsync(ApiTokens tokens, CancellationToken cancellationToken) =>
        Results.Ok((await tokens.ListAsync(cancellationToken)).Select(t => new TokenView(
            t.Name, ApiTokens.ScopeName(t.Scope), Utc(t.CreatedAt), Utc(t.ExpiresAt), Utc(t.LastUsedAt), t.CreatedBy)).ToList());

    private static async Task<IResult> CreateTokenAsync(HttpContext context, ApiTokens tokens)
    {
        var (body, problem) = await ApiJson.ReadAsync<TokenRequest>(context);
        if (problem is not null)
        {
            return problem;
        }

        if (!ApiTokens.TryParseScope(body!.Scope, out var scope))
        {
            return ApiProblems.BadRequest("scope is read, deploy or admin.");
        }

        if (body.ExpiresInDays is < 1)
        {
            return ApiProblems.BadRequest("expiresInDays is a positive number of days (leave it out for a token that does not expire).");
        }

        try
        {
            var created = await tokens.CreateAsync(body.Name ?? "", scope, body.ExpiresInDays is { } days ? TimeSpan.FromDays(days) : null, ApiCaller.Actor(context), context.RequestAborted);
            context.Response.Headers.CacheControl = "no-store";
            return Results.Json(new CreatedTokenView(created.Token.Name, ApiTokens.ScopeName(scope), Utc(created.Token.ExpiresAt), created.Text), statusCode: StatusCodes.Status201Created);
        }
        catch (ApiTokenException e)
        {
            return e.Message.Contains("exists already", StringComparison.Ordinal) ? ApiProblems.Conflict(e.Message) : ApiProblems.BadRequest(e.Message);
        }
    }

    private static async Task<IResult> RevokeTokenAsync(string name, ApiTokens tokens, CancellationToken cancellationToken) =>
        await tokens.RevokeAsync(name, cancellationToken) ? Results.NoContent() : ApiProblems.NotFound($"There is no token named '{name}'.");

    private static async Task<IResult> DeliveriesAsync(ActivityQueries activity, string? limit, string? repository, CancellationToken cancellationToken) =>
        ParseLimit(limit, out var count) is { } bad ? bad : Results.Ok(await activity.DeliveriesAsync(count, cancellationToken, repository: repository));

    private static async Task<IResult> DeliveryAsync(string id, ActivityQueries activity, CancellationToken cancellationToken) =>
        await activity.DeliveryAsync(id, cancellationToken) is { } found ? Results.Ok(found) : ApiProblems.NotFound($"There is no delivery {id} in the delivery log.");

    private static async Task<IResult> RedeliverAsync(string id, DeploymentActions actions, CancellationToken cancellationToken)
    {
        var outcome = await actions.RedeliverAsync(id, cancellationToken);
        return outcome.Status switch
        {
            RedeliveryStatus.Recorded => Results.Ok(new RedeliveryView("recorded", outcome.Message, outcome.NewDeliveryId, outcome.Result?.ToString().ToLowerInvariant(), outcome.DeploymentId)),
            RedeliveryStatus.NotFound => ApiProblems.NotFound(outcome.Message),
            _ => ApiProblems.Conflict(outcome.Message),
        };
    }

    private static async Task<IResult> OutboxAsync(ActivityQueries activity, string? limit, string? problems, CancellationToken cancellationToken)
    {
        if (ParseLimit(limit, out var count) is { } bad)
        {
            return bad;
        }

        var only = false;
        if (problems is not null && !bool.TryParse(problems, out only))
        {
            return ApiProblems.BadRequest("problems is true or false.");
        }

        return Results.Ok(await activity.OutboxAsync(count, only, cancellationToken));
    }

    private static async Task<IResult> AutoDeployAsync(ActivityQueries activity, string? limit, string? repository, CancellationToken cancellationToken) =>
        ParseLimit(limit, out var count) is { } bad ? bad : Results.Ok(await activity.AutoDeployDecisionsAsync(repository, count, cancellationToken));

    private static IResult? ParseLimit(string? limit, out int count)
    {
        count = 50;
        return limit is null || (int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) && count is >= 1 and <= ActivityQueries.MaxLimit)
            ? null
            : ApiProblems.BadRequest($"limit must be a number from 1 to {ActivityQueries.MaxLimit}.");
    }

    private static DateTimeOffset Utc(DateTime at) => new(DateTime.SpecifyKind(at, DateTimeKind.Utc));

    private static DateTimeOffset? Utc(DateTime? at) => at is { } value ? Utc(value) : null;
}
