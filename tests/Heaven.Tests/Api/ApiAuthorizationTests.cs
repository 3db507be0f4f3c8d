using System.Net;
using System.Text;
using System.Text.Json;
using Heaven.Access;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Api;

/// <summary>Every API endpoint: anonymous gets 401, a token one scope short 403 naming the scope, the right scope its answer; errors are problem+json.</summary>
public sealed class ApiAuthorizationTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private const string Sha = "0123456789abcdef0123456789abcdef01234567";
    private const string Environment = "/repositories/octo/app/environments";

    /// <summary>Method, path, JSON body, the scope it needs, what that scope gets on a Heaven with no deployments.</summary>
    public static readonly TheoryData<string, string, string?, TokenScope, int> Endpoints = new()
    {
        { "GET", "/deployments", null, TokenScope.Read, 200 },
        { "GET", "/deployments/1", null, TokenScope.Read, 404 },
        { "GET", "/deployments/1/log", null, TokenScope.Read, 404 },
        { "POST", "/deployments/1/cancel", null, TokenScope.Deploy, 404 },
        { "POST", "/deployments/1/redeploy", null, TokenScope.Deploy, 404 },
        { "POST", $"{Environment}/production/rollback", null, TokenScope.Deploy, 409 },
        { "POST", $"{Environment}/production/deployments", $$"""{"sha":"{{Sha}}"}""", TokenScope.Deploy, 409 },
        { "PUT", $"{Environment}/staging/lock", """{"reason":"migrating"}""", TokenScope.Deploy, 201 },
        { "DELETE", $"{Environment}/qa/lock", null, TokenScope.Deploy, 404 },
        { "GET", "/locks", null, TokenScope.Read, 200 },
        { "GET", "/nodes", null, TokenScope.Read, 200 },
        { "GET", "/antiforgery", null, TokenScope.Read, 200 },
        { "GET", "/tokens", null, TokenScope.Admin, 200 },
        { "POST", "/tokens", """{"name":"made-by-api","scope":"read"}""", TokenScope.Admin, 201 },
        { "DELETE", "/tokens/nobody", null, TokenScope.Admin, 404 },
        { "GET", "/deliveries", null, TokenScope.Admin, 200 },
        { "GET", "/deliveries/no-such-delivery", null, TokenScope.Admin, 404 },
        { "POST", "/deliveries/no-such-delivery/redeliver", null, TokenScope.Admin, 404 },
        { "GET", "/outbox", null, TokenScope.Admin, 200 },
        { "GET", "/autodeploy", null, TokenScope.Admin, 200 },
    };

    private HeavenTestHost Host => fixture.Host;

    internal static HttpRequestMessage Request(string method, string path, string? body)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return request;
    }

    internal static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(status, text);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json", text);
        text.ShouldNotContain("   at ");
        var problem = JsonDocument.Parse(text).RootElement;
        problem.GetProperty("status").GetInt32().ShouldBe((int)status);
        problem.GetProperty("title").GetString().ShouldNotBeNullOrWhiteSpace();
        return problem;
    }

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task AnEndpoint_RefusesAnonymousAndTooSmallScopes_AndAnswersTheRightScope(string method, string path, string? body, TokenScope scope, int expected)
    {
        var anonymous = await ApiClient.Anonymous(Host).SendAsync(Request(method, path, body));
        (await ProblemAsync(anonymous, HttpStatusCode.Unauthorized)).GetProperty("detail").GetString()!.ShouldContain("Bearer");

        if (scope > TokenScope.Read)
        {
            var shortScope = await ApiClient.For(Host, scope - 1).SendAsync(Request(method, path, body));
            (await ProblemAsync(shortScope, HttpStatusCode.Forbidden)).GetProperty("detail").GetString()
                .ShouldBe($"This needs a token with the '{ApiTokens.ScopeName(scope)}' scope; this token has '{ApiTokens.ScopeName(scope - 1)}'.");
        }

        var answer = await ApiClient.For(Host, scope).SendAsync(Request(method, path, body));
        var text = await answer.Content.ReadAsStringAsync();
        ((int)answer.StatusCode).ShouldBe(expected, text);
        if (expected >= 400)
        {
            await ProblemAsync(answer, answer.StatusCode);
        }
        else if (expected != 204)
        {
            answer.Content.Headers.ContentType?.MediaType.ShouldBe("application/json");
        }
    }

    [Theory]
    [InlineData("/deployments?limit=0", "limit must be a number from 1 to 500.")]
    [InlineData("/deployments?limit=many", "limit must be a number from 1 to 500.")]
    [InlineData("/deployments?state=exploded", "'exploded' is not a state; one of queued, running, success, failure, error, cancelled, rejected, ignored.")]
    [InlineData("/deployments?repository=nope", "repository is named owner/name.")]
    [InlineData("/outbox?problems=maybe", "problems is true or false.")]
    public async Task BadQueryValues_Are400ProblemsSayingWhatIsExpected(string path, string detail)
    {
        var response = await ApiClient.For(Host, TokenScope.Admin).GetAsync(path);

        (await ProblemAsync(response, HttpStatusCode.BadRequest)).GetProperty("detail").GetString().ShouldBe(detail);
    }

    [Theory]
    [InlineData("PUT", Environment + "/production/lock", "{}", "Say why: send { \"reason\": \"...\" } (and \"expiresAt\" to end the lock on its own).")]
    [InlineData("PUT", Environment + "/production/lock", "{\"reason\":", null)]
    [InlineData("POST", Environment + "/production/deployments", "{\"sha\":\"abc\"}", null)]
    [InlineData("POST", "/tokens", "{\"name\":\"x\",\"scope\":\"root\"}", "scope is read, deploy or admin.")]
    public async Task BadBodies_Are400Problems(string method, string path, string body, string? detail)
    {
        var response = await ApiClient.For(Host, TokenScope.Admin).SendAsync(Request(method, path, body));

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        if (detail is not null)
        {
            problem.GetProperty("detail").GetString().ShouldBe(detail);
        }
    }

    [Fact]
    public async Task DeployingAShortSha_IsRefusedBeforeGitHubIsAsked()
    {
        var response = await ApiClient.For(Host, TokenScope.Deploy).SendAsync(Request("POST", Environment + "/production/deployments", "{\"sha\":\"0123456\"}"));

        // The environment was never deployed, so nothing would be asked anyway; the sha is checked first.
        (await ProblemAsync(response, HttpStatusCode.BadRequest)).GetProperty("detail").GetString().ShouldBe("A commit to deploy is named by its full sha: 40 hexadecimal characters.");
    }

    [Theory]
    [InlineData("GET", "/nothing-here")]
    [InlineData("POST", "/deployments/1/explode")]
    [InlineData("GET", "/deployments/not-a-number")]
    public async Task UnknownApiAddresses_Are404Problems_NotPages(string method, string path)
    {
        var response = await ApiClient.For(Host, TokenScope.Read).SendAsync(Request(method, path, null));

        (await ProblemAsync(response, HttpStatusCode.NotFound)).GetProperty("detail").GetString()!.ShouldContain("/api/v1/openapi.json");
    }

    [Fact]
    public async Task Tokens_AreMadeListedAndRevoked_AndTheTextIsShownOnlyOnce()
    {
        var admin = ApiClient.For(Host, TokenScope.Admin);

        var created = await admin.SendAsync(Request("POST", "/tokens", """{"name":"ci-bot","scope":"deploy","expiresInDays":30}"""));
        created.StatusCode.ShouldBe(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var made = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var text = made.GetProperty("token").GetString()!;
        text.ShouldStartWith("heaven_");
        made.GetProperty("scope").GetString().ShouldBe("deploy");

        var withIt = new ApiClient(Host.Client, _ => Task.FromResult(text));
        (await withIt.GetAsync("/locks")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var again = await admin.SendAsync(Request("POST", "/tokens", """{"name":"ci-bot","scope":"read"}"""));
        await ProblemAsync(again, HttpStatusCode.Conflict);

        var listed = await (await admin.GetAsync("/tokens")).Content.ReadAsStringAsync();
        listed.ShouldContain("\"name\":\"ci-bot\"");
        listed.ShouldNotContain(text);
        listed.ShouldNotContain("hash", Case.Insensitive);

        (await admin.SendAsync(Request("DELETE", "/tokens/ci-bot", null))).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await ProblemAsync(await withIt.GetAsync("/locks"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task ALock_IsTakenRenewedRefusedToOthersAndRemoved()
    {
        var alice = ApiClient.For(Host, TokenScope.Deploy);
        var bob = ApiClient.For(Host, TokenScope.Deploy);
        var path = Environment + "/lock-test/lock";

        var taken = await alice.SendAsync(Request("PUT", path, """{"reason":"database migration"}"""));
        taken.StatusCode.ShouldBe(HttpStatusCode.Created, await taken.Content.ReadAsStringAsync());
        var held = JsonDocument.Parse(await taken.Content.ReadAsStringAsync()).RootElement;
        (held.GetProperty("repository").GetString(), held.GetProperty("environment").GetString(), held.GetProperty("reason").GetString()).ShouldBe(("octo/app", "lock-test", "database migration"));
        held.GetProperty("lockedBy").GetString()!.ShouldStartWith("token test-deploy-");

        (await alice.SendAsync(Request("PUT", path, """{"reason":"still migrating"}"""))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await ProblemAsync(await bob.SendAsync(Request("PUT", path, """{"reason":"mine"}""")), HttpStatusCode.Conflict)).GetProperty("detail").GetString()!.ShouldContain("token test-deploy-");
        (await (await bob.GetAsync("/locks")).Content.ReadAsStringAsync()).ShouldContain("still migrating");

        (await bob.SendAsync(Request("DELETE", path, null))).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await ProblemAsync(await bob.SendAsync(Request("DELETE", path, null)), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ALockExpiringInThePast_IsRefused()
    {
        var response = await ApiClient.For(Host, TokenScope.Deploy).SendAsync(Request("PUT", Environment + "/past/lock", """{"reason":"x","expiresAt":"2001-01-01T00:00:00Z"}"""));

        (await ProblemAsync(response, HttpStatusCode.BadRequest)).GetProperty("detail").GetString().ShouldBe("expiresAt must be in the future.");
    }
}
