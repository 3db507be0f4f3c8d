using Microsoft.OpenApi;

namespace Heaven.Api;

/// <summary>The JSON API under <c>/api/v1</c>: each endpoint maps itself onto the one group the host creates.</summary>
internal static class ApiEndpoints
{
    public const string Prefix = "/api/v1";

    public const string OpenApiPath = "/openapi.json";

    public const string BearerScheme = "bearer";

    /// <summary>The OpenAPI document of the API (served at <c>/api/v1/openapi.json</c>).</summary>
    public static IServiceCollection AddHeavenApi(this IServiceCollection services)
    {
        services.AddOpenApi(options =>
        {
            options.ShouldInclude = description => description.RelativePath?.StartsWith("api/v1/", StringComparison.Ordinal) == true;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Heaven API",
                    Version = "v1",
                    Description = "Deployments, actions, locks and administration of Heaven. Send an API token as 'Authorization: Bearer <token>' (heaven tokens create NAME --scope read|deploy|admin).",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "A Heaven API token (heaven_...). Scopes: read < deploy < admin.",
                };
                document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }];
                return Task.CompletedTask;
            });
        });
        return services;
    }

    public static RouteGroupBuilder MapApi(this RouteGroupBuilder api)
    {
        api.AddEndpointFilter(AnswerFailuresAsProblems);
        DeploymentLogEndpoint.Map(api);
        DeploymentEndpoints.Map(api);
        EnvironmentEndpoints.Map(api);
        AdminEndpoints.Map(api);
        NodeEndpoints.Map(api);

        // The document describes shapes, no data: readable without a token, so tools can fetch it.
        api.MapOpenApi(OpenApiPath).AllowAnonymous();

        // Any other address below /api/v1 is a problem, never the pages' HTML: 405 with Allow when the
        // address is an endpoint's and only the method is wrong, 404 otherwise.
        api.Map("/{**rest}", (HttpContext context, EndpointDataSource endpoints, IInlineConstraintResolver constraints) =>
            AllowedMethods(context, endpoints, constraints) is { Count: > 0 } allowed
                ? MethodNotAllowed(context, allowed)
                : ApiProblems.NotFound($"There is no API endpoint {context.Request.Method} {context.Request.Path}; the endpoints are listed at {Prefix}{OpenApiPath}."))
            .ExcludeFromDescription();
        return api;
    }

    private static IResult MethodNotAllowed(HttpContext context, IReadOnlyList<string> allowed)
    {
        var allow = string.Join(", ", allowed);
        context.Response.Headers.Allow = allow;
        return Results.Problem(
            statusCode: StatusCodes.Status405MethodNotAllowed,
            title: "Method not allowed",
            detail: $"{context.Request.Method} is not allowed on {context.Request.Path}; it answers {allow}. The endpoints are listed at {Prefix}{OpenApiPath}.");
    }

    /// <summary>The methods of the API endpoints whose route (constraints included) matches the request's path.</summary>
    private static List<string> AllowedMethods(HttpContext context, EndpointDataSource endpoints, IInlineConstraintResolver constraints)
    {
        var path = context.Request.Path;
        var allowed = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in endpoints.Endpoints.OfType<RouteEndpoint>())
        {
            if (endpoint.Metadata.GetMetadata<IHttpMethodMetadata>() is not { HttpMethods.Count: > 0 } methods
                || endpoint.RoutePattern.RawText is not { } raw
                || !raw.StartsWith(Prefix + "/", StringComparison.Ordinal))
            {
                continue;
            }

            var values = new RouteValueDictionary();
            if (!new Microsoft.AspNetCore.Routing.Template.TemplateMatcher(new Microsoft.AspNetCore.Routing.Template.RouteTemplate(endpoint.RoutePattern), new RouteValueDictionary()).TryMatch(path, values)
                || !MeetsConstraints(endpoint.RoutePattern, values, context, constraints))
            {
                continue;
            }

            allowed.UnionWith(methods.HttpMethods);
        }

        return [.. allowed];
    }

    private static bool MeetsConstraints(Microsoft.AspNetCore.Routing.Patterns.RoutePattern pattern, RouteValueDictionary values, HttpContext context, IInlineConstraintResolver constraints)
    {
        foreach (var (name, policies) in pattern.ParameterPolicies)
        {
            foreach (var policy in policies)
            {
                var constraint = policy.ParameterPolicy as IRouteConstraint ?? (policy.Content is { } content ? constraints.ResolveConstraint(content) : null);
                if (constraint is not null && !constraint.Match(context, null, name, values, RouteDirection.IncomingRequest))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>An unexpected failure is a 500 problem that says nothing of the code; the log has the rest.</summary>
    private static async ValueTask<object?> AnswerFailuresAsProblems(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        try
        {
            return await next(invocation);
        }
        catch (Exception e) when (e is not OperationCanceledException && !context.Response.HasStarted)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Heaven.Api")
                .LogError(e, "{Method} {Path} failed.", context.Request.Method, context.Request.Path);
            return Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "Internal error", detail: "Heaven failed to answer this request; its log says why.");
        }
    }
}
