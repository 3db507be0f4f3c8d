using System.Net;
using System.Security.Claims;
using Heaven.Access;
using Heaven.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using static Heaven.Tests.Access.AccessTestKit;

namespace Heaven.Tests.Access;

/// <summary>What a signed-in user or a token may do on one repository.</summary>
public sealed class RepositoryAccessTests
{
    [Fact]
    public async Task AUsersRoleOnGitHub_DecidesTheirPermission_AskedWithHeavensToken_AndRememberedBriefly()
    {
        await using var github = await FakeGitHub.StartAsync();
        // Now, not a fixed date: the browser drops sign-in cookies that expired by its own clock.
        var clock = new TestClock(DateTimeOffset.UtcNow);
        foreach (var (login, role) in new[] { ("ada", "admin"), ("max", "maintain"), ("wes", "write"), ("tia", "triage"), ("rea", "read"), ("nob", "none") })
        {
            github.SetPermission("octo/app", login, role);
        }

        var asked = new List<(string Login, RepositoryPermission Permission)>();
        await using var host = await HeavenTestHost.StartAsync(
            SignInSettings(github, ("Web:AllowedOrganizations:0", "octo"), ("Web:PermissionCacheSeconds", "60")),
            overrideServices: s => s.AddSingleton<TimeProvider>(clock),
            beforeStart: app => app.MapGet("/test/permission/{owner}/{repo}", async (string owner, string repo, HttpContext context, IRepositoryAccess access) =>
                (await access.GetAsync(context.User, $"{owner}/{repo}", context.RequestAborted)).ToString()));

        async Task<string> PermissionOf(string login, string repository = "octo/app")
        {
            github.OAuthUser = new FakeGitHubUser(login, login.GetHashCode(StringComparison.Ordinal) & 0xffff, ["octo"]);
            using var browser = Browser(host);
            (await SignInAsync(browser)).StatusCode.ShouldBe(HttpStatusCode.Redirect);
            return await (await browser.GetAsync("/test/permission/" + repository)).Content.ReadAsStringAsync();
        }

        (await PermissionOf("ada")).ShouldBe("Deploy");
        (await PermissionOf("max")).ShouldBe("Deploy");
        (await PermissionOf("wes")).ShouldBe("Deploy");
        (await PermissionOf("tia")).ShouldBe("Read");
        (await PermissionOf("rea")).ShouldBe("Read");
        (await PermissionOf("nob")).ShouldBe("None");
        (await PermissionOf("stranger")).ShouldBe("None", "GitHub answers 404 for someone who is no collaborator");
        github.RequestsTo("collaborator-permission").ShouldAllBe(r => r.Header("Authorization") == "Bearer ghp_heavensowntoken0123456789");

        // Remembered for Web:PermissionCacheSeconds, then asked again.
        github.SetPermission("octo/app", "wes", "read");
        var before = github.RequestsTo("collaborator-permission").Count;
        (await PermissionOf("wes")).ShouldBe("Deploy");
        github.RequestsTo("collaborator-permission").Count.ShouldBe(before);
        clock.Advance(TimeSpan.FromSeconds(61));
        (await PermissionOf("wes")).ShouldBe("Read");
        github.RequestsTo("collaborator-permission").Count.ShouldBe(before + 1);
    }

    [Fact]
    public async Task ATokensPermission_IsItsScope_OnEveryRepository_AndAdminIsTheAdminScope()
    {
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?> { ["Web:Administrators:0"] = "root-user" });
        var access = host.Services.GetRequiredService<IRepositoryAccess>();
        ClaimsPrincipal Token(TokenScope scope) => new(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, "t"), new Claim(HeavenUser.KindClaim, "token"), new Claim(HeavenUser.ScopeClaim, scope.ToString().ToLowerInvariant())], "test", ClaimTypes.Name, ClaimTypes.Role));
        var gitHubUser = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "Root-User"), new Claim(HeavenUser.KindClaim, "github")], "test", ClaimTypes.Name, ClaimTypes.Role));

        (await access.GetAsync(Token(TokenScope.Read), "any/repo", CancellationToken.None)).ShouldBe(RepositoryPermission.Read);
        (await access.GetAsync(Token(TokenScope.Deploy), "any/repo", CancellationToken.None)).ShouldBe(RepositoryPermission.Deploy);
        (await access.GetAsync(Token(TokenScope.Admin), "other/repo", CancellationToken.None)).ShouldBe(RepositoryPermission.Deploy);
        (await access.GetAsync(new ClaimsPrincipal(new ClaimsIdentity()), "any/repo", CancellationToken.None)).ShouldBe(RepositoryPermission.None);
        access.IsAdmin(Token(TokenScope.Admin)).ShouldBeTrue();
        access.IsAdmin(Token(TokenScope.Deploy)).ShouldBeFalse();
        access.IsAdmin(gitHubUser).ShouldBeTrue();
        HeavenUser.From(gitHubUser).ShouldBe(new HeavenUser("Root-User", HeavenUserKind.GitHub, null));
    }
}
