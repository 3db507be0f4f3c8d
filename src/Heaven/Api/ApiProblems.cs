using Heaven.Operations;

namespace Heaven.Api;

/// <summary>Every error of the API: <c>application/problem+json</c> with a title and a sentence saying what to do.</summary>
internal static class ApiProblems
{
    public static IResult BadRequest(string detail) => Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request", detail: detail);

    public static IResult NotFound(string detail) => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail);

    public static IResult Forbidden(string detail) => Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail);

    public static IResult Conflict(string detail) => Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail);

    /// <summary>An action that did not happen, with the status code that says why.</summary>
    public static IResult From(ActionResult result) => result.Status switch
    {
        ActionStatus.NotFound => NotFound(result.Message),
        ActionStatus.Conflict => Conflict(result.Message),
        ActionStatus.Invalid => BadRequest(result.Message),
        ActionStatus.GitHubRefused => Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "GitHub refused", detail: result.Message),
        _ => Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "Unexpected result", detail: result.Message),
    };

    /// <summary>The problem answers an endpoint may give, for the OpenAPI document.</summary>
    public static TBuilder ProducesProblems<TBuilder>(this TBuilder builder, params int[] statuses)
        where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in statuses.Concat([StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status500InternalServerError]).Distinct())
        {
            builder.WithMetadata(new ProducesResponseTypeMetadata(status, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
        }

        return builder;
    }
}
