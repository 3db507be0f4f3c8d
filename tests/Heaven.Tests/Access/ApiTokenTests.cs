using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Heaven.Access;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static Heaven.Tests.Access.AccessTestKit;

namespace Heaven.Tests.Access;

/// <summary>API tokens as a client presents them: <c>Authorization: Bearer</c>, with scopes and an end.</summary>
public sealed class ApiTokenTests
{
    /// <summary>Endpoints of the test, one per policy, that answer who got in.</summary>
    private static void MapProbes(WebApplication app)
    {
        foreach (var (path, policy) in new[] { ("/api/test/read", AccessPolicies.Read), ("/api/test/deploy", AccessPolicies.Deploy), ("/api/test/admin", AccessPolicies.Admin) })
        {
            app.MapGet(path, (HttpContext context) => HeavenUser.From(context.User)!.DisplayName).RequireAuthorization(policy);
        }
    }

    private static HttpRequestMessage Get(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }

    [Fact]
    public async Task ATokenOpensWhatItsScopeAllows_AndTheRestIs403NamingTheMissingScope()
    {
        await using var host = await HeavenTestHost.StartAsync(beforeStart: MapProbes);
        var tokens = host.Services.GetRequiredService<ApiTokens>();
        var read = (await tokens.CreateAsync("dashboard", TokenScope.Read, null, "test", CancellationToken.None)).Text;
        var deploy = (await tokens.CreateAsync("ci", TokenScope.Deploy, null, "test", CancellationToken.None)).Text;
        var admin = (await tokens.CreateAsync("ops", TokenScope.Admin, null, "test", CancellationToken.None)).Text;

        async Task<HttpStatusCode> Status(string path, string token) => (await host.Client.SendAsync(Get(path, token))).StatusCode;

        (await Status("/api/test/read", read)).ShouldBe(HttpStatusCode.OK);
        (await Status("/api/test/deploy", read)).ShouldBe(HttpStatusCode.Forbidden);
        (await Status("/api/test/deploy", deploy)).ShouldBe(HttpStatusCode.OK);
        (await Status("/api/test/admin", deploy)).ShouldBe(HttpStatusCode.Forbidden);
        (await Status("/api/test/read", admin)).ShouldBe(HttpStatusCode.OK);
        (await Status("/api/test/admin", admin)).ShouldBe(HttpStatusCode.OK);
        var who = await host.Client.SendAsync(Get("/api/test/read", deploy));
        (await who.Content.ReadAsStringAsync()).ShouldBe("token ci");
        var refused = await host.Client.SendAsync(Get("/api/test/admin", deploy));
        refused.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()
            .ShouldBe("This needs a token with the 'admin' scope; this token has 'deploy'.");
    }

    [Fact]
    public async Task AnUnknownRevokedOrExpiredToken_Gets401_AndTheSameWordsForEach()
    {
        var clock = new TestClock(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var host = await HeavenTestHost.StartAsync(overrideServices: s => s.AddSingleton<TimeProvider>(clock), beforeStart: MapProbes);
        var tokens = host.Services.GetRequiredService<ApiTokens>();
        var expiring = (await tokens.CreateAsync("week", TokenScope.Read, TimeSpan.FromDays(7), "test", CancellationToken.None)).Text;
        var revoked = (await tokens.CreateAsync("gone", TokenScope.Admin, null, "test", CancellationToken.None)).Text;

        (await host.Client.SendAsync(Get("/api/test/read", expiring))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await host.Client.SendAsync(Get("/api/test/read", revoked))).StatusCode.ShouldBe(HttpStatusCode.OK);
        clock.Advance(TimeSpan.FromDays(7));
        (await tokens.RevokeAsync("gone", CancellationToken.None)).ShouldBeTrue();

        foreach (var token in new[] { expiring, revoked, "heaven_" + new string('A', 43), revoked[..^1], "not-even-a-heaven-token" })
        {
            var answer = await host.Client.SendAsync(Get("/api/test/read", token));
            answer.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, token);
            answer.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
            JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()
                .ShouldBe("The API token is not valid: it is unknown, revoked or expired.");
        }

        // Outside /api/ a bad token is a 401 too, not a redirect to a sign-in page a script cannot use.
        (await host.Client.SendAsync(Get("/", revoked))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task TheDatabaseHoldsTheTokensHash_NeverTheToken_AndNotesItsLastUse()
    {
        var clock = new TestClock(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var host = await HeavenTestHost.StartAsync(overrideServices: s => s.AddSingleton<TimeProvider>(clock), beforeStart: MapProbes);
        var created = await host.Services.GetRequiredService<ApiTokens>().CreateAsync("ci", TokenScope.Deploy, null, "alice", CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(5));
        (await host.Client.SendAsync(Get("/api/test/read", created.Text))).StatusCode.ShouldBe(HttpStatusCode.OK);

        created.Text.ShouldMatch("^heaven_[A-Za-z0-9_-]{43}$");
        await using var db = await host.Services.GetRequiredService<IHeavenDatabase>().OpenAsync(CancellationToken.None);
        var row = await db.Set<ApiToken>().SingleAsync();
        row.TokenHash.ShouldBe(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(created.Text))));
        row.TokenHash.ShouldNotContain(created.Text[7..]);
        row.Scope.ShouldBe(TokenScope.Deploy);
        row.CreatedBy.ShouldBe("alice");
        row.LastUsedAt.ShouldBe(new DateTime(2026, 3, 1, 12, 5, 0, DateTimeKind.Utc));
        // Nothing in the whole file holds the token's text.
        await using var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name || token_hash || scope || created_by FROM api_tokens";
        ((string)(await command.ExecuteScalarAsync())!).ShouldNotContain(created.Text[7..]);
    }

    [Fact]
    public async Task AGitHubUser_PassesReadAndDeploy_AndAdminOnlyWhenListedAsAdministrator()
    {
        await using var github = await FakeGitHub.StartAsync();
        await using var host = await HeavenTestHost.StartAsync(
            SignInSettings(github, ("Web:AllowedUsers:0", "octocat"), ("Web:AllowedUsers:1", "hubot"), ("Web:Administrators:0", "hubot")),
            beforeStart: MapProbes);
        using var octocat = Browser(host);
        (await SignInAsync(octocat)).StatusCode.ShouldBe(HttpStatusCode.Redirect);
        github.OAuthUser = new FakeGitHubUser("hubot", 2);
        using var hubot = Browser(host);
        (await SignInAsync(hubot)).StatusCode.ShouldBe(HttpStatusCode.Redirect);

        (await (await octocat.GetAsync("/api/test/deploy")).Content.ReadAsStringAsync()).ShouldBe("octocat");
        var refused = await octocat.GetAsync("/api/test/admin");
        refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await refused.Content.ReadAsStringAsync()).ShouldContain("octocat is not in Web:Administrators");
        (await hubot.GetAsync("/api/test/admin")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}
