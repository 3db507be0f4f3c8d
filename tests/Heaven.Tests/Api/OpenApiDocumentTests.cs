using System.Net;
using System.Text.RegularExpressions;
using Heaven.Tests.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace Heaven.Tests.Api;

/// <summary><c>GET /api/v1/openapi.json</c>: valid OpenAPI, every endpoint in it, the bearer scheme.</summary>
public sealed partial class OpenApiDocumentTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    [Fact]
    public async Task TheDocument_IsValidOpenApi_ReadableWithoutAToken_AndListsEveryEndpointWithItsResponses()
    {
        var response = await ApiClient.Anonymous(fixture.Host).GetAsync("/openapi.json");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);

        var read = OpenApiDocument.Parse(text, OpenApiConstants.Json, new OpenApiReaderSettings());
        read.Diagnostic?.Errors.ShouldBeEmpty();
        var document = read.Document.ShouldNotBeNull();
        document.Components!.SecuritySchemes!.ShouldContainKey("bearer");
        document.Components.SecuritySchemes!["bearer"]!.Scheme.ShouldBe("bearer");
        document.Security.ShouldNotBeNull().ShouldNotBeEmpty();

        var mapped = fixture.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/v1/", StringComparison.Ordinal) == true && !e.RoutePattern.RawText.Contains("**", StringComparison.Ordinal) && !e.RoutePattern.RawText.EndsWith("openapi.json", StringComparison.Ordinal))
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (Method: m, Path: Constraint().Replace(e.RoutePattern.RawText!, "{$1}"))))
            .ToList();
        mapped.Count.ShouldBeGreaterThan(15);
        foreach (var (method, path) in mapped)
        {
            document.Paths.ShouldContainKey(path);
            var operations = document.Paths[path].Operations.ShouldNotBeNull();
            var operation = operations.Single(o => string.Equals(o.Key.Method, method, StringComparison.OrdinalIgnoreCase)).Value;
            operation.Responses.ShouldNotBeNull().Keys.ShouldContain("401", $"{method} {path}");
            operation.Responses.Keys.ShouldContain(k => k.StartsWith('2'), $"{method} {path}");
        }
    }

    [GeneratedRegex(@"\{([a-z]+):[a-z]+\}")]
    private static partial Regex Constraint();
}
